#!/usr/bin/env node
// Runs the database-backed jest tests (*.db.spec.ts, *.e2e.spec.ts) against a real PostgreSQL server.
// Usage: npm run test:pg [-- <extra jest args>]   (e.g. -- -t 'claims'; note jest OR-s positional path patterns
// with the db/e2e pattern, so a positional pattern adds files rather than narrowing the selection.)
// DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres. The test helper
// (libs/db/src/testing/test-database.ts) creates and drops a fresh database per test file on that server.
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const root = path.resolve(import.meta.dirname, '../..');
const databaseUrl = process.env.DATABASE_URL || DEFAULT_URL;

/** The URL without its password, for messages. */
function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}

async function checkConnection(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query('SELECT version() AS version');
    return rows[0].version;
  } finally {
    await client.end().catch(() => {});
  }
}

try {
  const version = await checkConnection(databaseUrl);
  console.log(`test:pg: using ${redact(databaseUrl)} (${version.split(',')[0]})`);
} catch (error) {
  console.error(`test:pg: cannot connect to PostgreSQL at ${redact(databaseUrl)}: ${error.message ?? error}`);
  console.error('Start a server (e.g. `pg_ctlcluster <version> main start`) or set DATABASE_URL to a reachable one.');
  process.exit(1);
}

const jestArgs = [
  '--experimental-vm-modules',
  '--no-warnings=ExperimentalWarning',
  path.join(root, 'node_modules/jest/bin/jest.js'),
  // `=` form: the option is an array, so a following positional argument would otherwise be swallowed into it.
  '--testPathPatterns=\\.(db|e2e)\\.spec\\.ts$',
  ...process.argv.slice(2),
];

const child = spawn(process.execPath, jestArgs, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, DATABASE_URL: databaseUrl },
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (error) => {
  console.error(`test:pg: failed to start jest: ${error.message}`);
  process.exit(1);
});

child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`test:pg: jest was killed by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
