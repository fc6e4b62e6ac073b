#!/usr/bin/env node
// `npm run bench:ingest`: event-ingest throughput of the real hub (POST /v1/events) against a bare
// Fastify server doing the same database work, on embedded PGlite and on PostgreSQL, and the added
// cost of authentication per request (the hub with and without it, in the same run).
//
// For each database: build and start the hub bundle (dist/hub/main.cjs) as a child process with its
// own temp data dir and config; start "hub-no-auth" the same way from dist/bench/hub-no-auth.cjs
// (tools/bench/hub-no-auth.ts: the same app, but each distinct token is resolved by the real
// PrincipalResolver once and then served from memory, so the per-request authentication round trip
// is gone while the guard and scope checks still run); start the bare server
// (tools/bench/bare-server.mjs, bundled to dist/bench/bare-server.cjs); each on its own copy of the
// database. Then drive them in turn, round after round, with the same closed-loop load (hub and
// hub-no-auth back to back, their order swapped every round so drift does not favour one) and
// report the medians. The added cost of authentication per request is reported from the p50
// difference and from throughput, as concurrency x (1/events-per-s with auth - 1/events-per-s
// without), which by Little's law is the added mean latency under this closed-loop load; both as
// the median of the per-round differences, in ms and as a percentage. That it is one round trip per
// request (device token) is proven by libs/identity/src/principals/principal-resolver.round-trips.db.spec.ts,
// not measured here. Everything it starts (processes, temp dirs, databases) is removed at the end,
// also on failure or Ctrl-C.
//
// Settings (environment):
//   BENCH_REQUESTS=3000   measured requests per run        BENCH_WARMUP=300   warm-up requests per run
//   BENCH_CONCURRENCY=16  requests in flight               BENCH_ROUNDS=3     rounds (each server once) per database
//   BENCH_DATABASES=pglite,postgres                        which databases to run
//   BENCH_PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres   server for the PostgreSQL runs
//   BENCH_HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"        extra node flags for the hub child
//   BENCH_BARE_NODE_ARGS=…                                            the same for the bare server
//                         (BENCH_HUB_NODE_ARGS applies to hub-no-auth too)
//   BENCH_BUDGET_S=210    rounds after the second are skipped when they would overrun this many seconds
// Profiles: node tools/bench/summarize-profile.mjs /tmp/prof/<file>.cpuprofile
//   BENCH_KEEP=1          keep temp dirs (not databases) for inspection
//   BENCH_NO_AUTH=0       leave out hub-no-auth (and so the authentication figures); on by default
//   BENCH_WITH_READS=1    add another server, "bare+reads": the bare server plus the hub's authentication read per request
//                         (the device-token lookup), to split the gap into "queries" and "framework"
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { bundle, bundleScript } from '../build/bundle.mjs';
import { drive } from './load.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function intSetting(name, fallback, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number >= ${min} (got "${raw}")`);
  }
  return value;
}

const settings = {
  requests: intSetting('BENCH_REQUESTS', 3000, 1),
  warmup: intSetting('BENCH_WARMUP', 300, 0),
  concurrency: intSetting('BENCH_CONCURRENCY', 16, 1),
  rounds: intSetting('BENCH_ROUNDS', 3, 1),
  databases: (process.env.BENCH_DATABASES || 'pglite,postgres')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  pgAdminUrl: process.env.BENCH_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
  hubNodeArgs: (process.env.BENCH_HUB_NODE_ARGS || '').split(/\s+/).filter(Boolean),
  bareNodeArgs: (process.env.BENCH_BARE_NODE_ARGS || '').split(/\s+/).filter(Boolean),
  budgetSeconds: intSetting('BENCH_BUDGET_S', 210, 10),
  keep: process.env.BENCH_KEEP === '1',
  withReads: process.env.BENCH_WITH_READS === '1',
  withoutAuth: process.env.BENCH_NO_AUTH !== '0',
};
const HUB = 'hub';
const HUB_NO_AUTH = 'hub-no-auth';
/** Every server each database is benchmarked with, in the order of the results table. */
const serverNames = () => [
  HUB,
  ...(settings.withoutAuth ? [HUB_NO_AUTH] : []),
  'bare',
  ...(settings.withReads ? ['bare+reads'] : []),
];
const RUN_ID = randomBytes(4).toString('hex');

// ---------------------------------------------------------------------------------------------
// Cleanup: every child, temp dir and database is registered here the moment it exists.

const children = new Set();
const tempDirs = new Set();
const databases = new Map(); // name -> admin URL of its server
let cleaningUp = null;
let interrupted = false;

function makeTempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `marvain-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

function stopChild(child, graceMs = 10_000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      return resolve();
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function dropDatabase(name, adminUrl) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    databases.delete(name);
  } catch (error) {
    console.error(`bench: could not drop database ${name}: ${error.message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function removeTempDirs() {
  for (const dir of tempDirs) {
    if (settings.keep) {
      console.log(`bench: kept ${dir}`);
    } else {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (error) {
        console.error(`bench: could not remove ${dir}: ${error.message}`);
      }
    }
    tempDirs.delete(dir);
  }
}

function cleanup() {
  cleaningUp ??= (async () => {
    await Promise.all([...children].map((child) => stopChild(child)));
    for (const [name, adminUrl] of [...databases]) {
      await dropDatabase(name, adminUrl);
    }
    removeTempDirs();
  })();
  return cleaningUp;
}

// Last resort (an exception escaped, or process.exit elsewhere): synchronous kill and rm.
process.on('exit', () => {
  for (const child of children) {
    child.kill('SIGKILL');
  }
  if (!settings.keep) {
    for (const dir of tempDirs) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\nbench: ${signal}, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The parent's environment without anything that would point a child at another hub or database. */
function cleanEnv(extra) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('MARVAIN_') || key === 'DATABASE_URL' || key === 'NODE_OPTIONS') {
      delete env[key];
    }
  }
  return { ...env, ...extra };
}

function spawnChild(label, args, env) {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let tail = '';
  const keep = (chunk) => {
    tail = (tail + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', () => children.delete(child));
  child.outputTail = () => tail;
  child.label = label;
  return child;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// CPU accounting from /proc (Linux): a process's user+system time, and the whole machine's busy time,
// in milliseconds. Null where /proc is not available.
const CLOCK_TICK_MS = 10; // USER_HZ is 100 on every Linux this runs on
function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS; // utime, stime
  } catch {
    return null;
  }
}
/** CPU ms used so far by the PostgreSQL backends connected to `database` (pids from pg_stat_activity). */
async function backendCpu(adminUrl, database) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    return new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)]).filter(([, ms]) => ms !== null));
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
/** CPU the backends used between two backendCpu() snapshots (a backend that appeared counts in full). */
function backendCpuDelta(before, after) {
  if (!before || !after) {
    return null;
  }
  let ms = 0;
  for (const [pid, now] of after) {
    ms += now - (before.get(pid) ?? 0);
  }
  return ms;
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: 2000 }, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

function exitedError(child) {
  return new Error(
    `${child.label} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${child.outputTail()}`,
  );
}

/** Starts a hub bundle (the real one, or hub-no-auth) as the local runtime does, with first-run bootstrap. */
async function startHub(db, { name, bundlePath }) {
  const dir = makeTempDir(`${name}-${db.kind}`);
  const port = await freePort();
  const configFile = path.join(dir, 'marvain-config.yaml');
  const env = cleanEnv({
    MARVAIN_DATA_DIR: path.join(dir, 'data'),
    MARVAIN_CONFIG: configFile,
    MARVAIN_HOST: '127.0.0.1',
    MARVAIN_PORT: String(port),
    MARVAIN_LOG_LEVEL: 'warn',
    MARVAIN_WORKERS: 'false',
    MARVAIN_FIRST_RUN_BOOTSTRAP: 'true',
    ...(db.kind === 'postgres' ? { DATABASE_URL: db.urls[name] } : {}),
  });
  const started = Date.now();
  const child = spawnChild(`${name} (${db.label})`, [...settings.hubNodeArgs, bundlePath], env);

  const deadline = Date.now() + 90_000;
  let health = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw exitedError(child);
    }
    try {
      const answer = await getJson(`http://127.0.0.1:${port}/v1/health`);
      if (answer.status === 200) {
        health = answer.json;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  if (!health) {
    throw new Error(`${name} (${db.label}) did not answer /v1/health within 90 s:\n${child.outputTail()}`);
  }

  // First-run bootstrap writes the config file right after listen.
  let saved = null;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw exitedError(child);
    }
    if (existsSync(configFile)) {
      const parsed = parseYaml(readFileSync(configFile, 'utf8'));
      if (parsed?.device_token && parsed?.space_id) {
        saved = parsed;
        break;
      }
    }
    await sleep(100);
  }
  if (!saved) {
    throw new Error(`${name} (${db.label}) wrote no device_token/space_id to ${configFile}:\n${child.outputTail()}`);
  }
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}/v1/events`,
    headers: { authorization: `Bearer ${saved.device_token}` },
    spaceId: saved.space_id,
    startMs: Date.now() - started,
    note:
      `database ${health.database?.kind}, schema ${health.database?.schema_version}` +
      (name === HUB_NO_AUTH ? ', principals memoized' : ''),
  };
}

async function startBare(db, bareBundle, { withReads = false } = {}) {
  const name = withReads ? 'bare+reads' : 'bare';
  const port = await freePort();
  let dbSpec;
  if (db.kind === 'pglite') {
    const dir = makeTempDir(withReads ? 'bare-reads-pglite' : 'bare-pglite');
    dbSpec = `pglite:${path.join(dir, 'pglite')}`;
  } else {
    dbSpec = db.urls[name];
  }
  const env = cleanEnv({
    BARE_PORT: String(port),
    BARE_DB: dbSpec,
    BARE_MIGRATIONS: path.join(root, 'migrations'),
    ...(withReads ? { BARE_READS: '1' } : {}),
  });
  const started = Date.now();
  const child = spawnChild(`${name} (${db.label})`, [...settings.bareNodeArgs, bareBundle], env);
  const ready = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(
      () => reject(new Error(`bare server (${db.label}) not ready within 90 s:\n${child.outputTail()}`)),
      90_000,
    );
    const onData = (chunk) => {
      buffer += chunk.toString('utf8');
      const match = /^READY (.*)$/m.exec(buffer);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(JSON.parse(match[1]));
      }
    };
    const onExit = () => {
      clearTimeout(timer);
      reject(exitedError(child));
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    name,
    child,
    url: `http://127.0.0.1:${port}/v1/events`,
    headers: ready.device_token ? { authorization: `Bearer ${ready.device_token}` } : {},
    spaceId: ready.space_id,
    startMs: Date.now() - started,
    note: withReads ? 'Fastify + Kysely + the 2 reads, no framework' : 'Fastify + Kysely, no auth',
  };
}

// ---------------------------------------------------------------------------------------------
// Measuring

function checkResponse(status, json, text) {
  if (status !== 202) {
    return `HTTP ${status}: ${text.slice(0, 300)}`;
  }
  if (!json || typeof json.event_id !== 'string') {
    return `202 without an event_id: ${text.slice(0, 300)}`;
  }
  if (json.duplicate === true) {
    return `202 but duplicate (client_event_id reused?): ${text.slice(0, 300)}`;
  }
  return null;
}

async function measure(db, server, round) {
  const tag = `${RUN_ID}-${db.kind}-${server.name}-r${round}`;
  const makeBody = (phase) => (i) => ({
    space_id: server.spaceId,
    type: 'transcript_chunk',
    payload: { text: `bench ${phase}${i}: tell Sam the package arrived at the front door`, lang: 'en' },
    client_event_id: `${tag}-${phase}${i}`,
  });
  const common = { url: server.url, concurrency: settings.concurrency, headers: server.headers, check: checkResponse };
  const warm = settings.warmup > 0 ? await drive({ ...common, count: settings.warmup, makeBody: makeBody('w') }) : null;
  const database = db.kind === 'postgres' ? db.names[server.name] : null;
  const dbBefore = database ? await backendCpu(settings.pgAdminUrl, database) : null;
  const cpuBefore = processCpuMs(server.child.pid);
  const result = await drive({ ...common, count: settings.requests, makeBody: makeBody('m') });
  const cpuAfter = processCpuMs(server.child.pid);
  const dbAfter = database ? await backendCpu(settings.pgAdminUrl, database) : null;
  result.serverCpuMs = cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) / settings.requests : null;
  const dbMs = backendCpuDelta(dbBefore, dbAfter);
  result.dbCpuMs = dbMs === null ? null : dbMs / settings.requests;
  const failures = (warm?.failureCount ?? 0) + result.failureCount;
  const cpu = (v) => (v === null ? '   n/a' : v.toFixed(2).padStart(6));
  const line =
    `  ${db.label.padEnd(10)} ${server.name.padEnd(11)} round ${round}: ${result.perSecond.toFixed(0).padStart(6)} events/s` +
    `  p50 ${result.p50.toFixed(2).padStart(6)} ms  p99 ${result.p99.toFixed(2).padStart(7)} ms` +
    `  CPU/req: server ${cpu(result.serverCpuMs)} ms` +
    (database ? `, postgres ${cpu(result.dbCpuMs)} ms` : '') +
    (failures ? `  FAILURES ${failures}` : '');
  console.log(line);
  for (const failure of [...(warm?.failures ?? []), ...result.failures]) {
    console.log(`      ${server.name} ${failure}`);
  }
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(`${server.child.label} died during the run:\n${server.child.outputTail()}`);
  }
  return { ...result, failureCount: failures };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// Each database after the current one is assumed to need this long at least (start-up + 2 rounds):
// 45 s with hub and bare alone, 15 s more for each further server.
const reservePerDatabaseMs = () => 15_000 * (1 + serverNames().length);

async function benchDatabase(db, bundles, { deadline, databasesAfter }) {
  console.log(`\n== ${db.label} ==`);
  const ready = (server) =>
    console.log(
      `  ${server.name.padEnd(11)} ready in ${(server.startMs / 1000).toFixed(1)} s (${server.note}, pid ${server.child.pid})`,
    );
  const hub = await startHub(db, { name: HUB, bundlePath: bundles.hub });
  ready(hub);
  const hubs = [hub];
  if (settings.withoutAuth) {
    const noAuth = await startHub(db, { name: HUB_NO_AUTH, bundlePath: bundles.hubNoAuth });
    ready(noAuth);
    hubs.push(noAuth);
  }
  const bare = await startBare(db, bundles.bare);
  ready(bare);
  const others = [bare];
  if (settings.withReads) {
    const reads = await startBare(db, bundles.bare, { withReads: true });
    ready(reads);
    others.push(reads);
  }
  const servers = [...hubs, ...others];
  const runs = Object.fromEntries(servers.map((server) => [server.name, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    const roundStart = Date.now();
    // hub and hub-no-auth back to back, the first of them alternating: their difference is the figure that matters.
    const order = round % 2 === 1 ? [...hubs, ...others] : [...[...hubs].reverse(), ...others];
    for (const server of order) {
      runs[server.name].push(await measure(db, server, round));
      await sleep(300); // let the previous run's connections close and the database settle
    }
    const roundMs = Date.now() - roundStart;
    if (
      round >= 2 &&
      round < settings.rounds &&
      Date.now() + roundMs + databasesAfter * reservePerDatabaseMs() > deadline
    ) {
      console.log(`  (stopping after ${round} rounds to stay within BENCH_BUDGET_S=${settings.budgetSeconds})`);
      break;
    }
  }
  for (const server of servers) {
    await stopChild(server.child);
  }
  const summary = (list) => ({
    perSecond: median(list.map((r) => r.perSecond)),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    serverCpuMs: list.some((r) => r.serverCpuMs === null) ? null : median(list.map((r) => r.serverCpuMs)),
    dbCpuMs: list.some((r) => r.dbCpuMs === null || r.dbCpuMs === undefined)
      ? null
      : median(list.map((r) => r.dbCpuMs)),
    each: list.map((r) => r.perSecond),
    p50Each: list.map((r) => r.p50),
    failures: list.reduce((n, r) => n + r.failureCount, 0),
  });
  return {
    label: db.label,
    kind: db.kind,
    servers: Object.keys(runs),
    ...Object.fromEntries(Object.entries(runs).map(([name, list]) => [name, summary(list)])),
  };
}

async function postgresTargets() {
  const admin = new pg.Client({ connectionString: settings.pgAdminUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => undefined);
    return {
      skip: `PostgreSQL at ${redact(settings.pgAdminUrl)} is unreachable (${error.message}); skipping the PostgreSQL runs`,
    };
  }
  try {
    const { rows } = await admin.query('SHOW server_version');
    const base = `marvain_bench_${RUN_ID}`;
    const urls = {};
    const names = {};
    for (const who of serverNames()) {
      const name = `${base}_${who.replace(/[^a-z0-9]/g, '_')}`;
      names[who] = name;
      databases.set(name, settings.pgAdminUrl);
      await admin.query(`CREATE DATABASE "${name}"`);
      const url = new URL(settings.pgAdminUrl);
      url.pathname = `/${name}`;
      urls[who] = url.toString();
    }
    return { kind: 'postgres', label: 'PostgreSQL', version: rows[0].server_version, urls, names };
  } finally {
    await admin.end().catch(() => undefined);
  }
}

function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

// ---------------------------------------------------------------------------------------------

function printTable(results) {
  const header = [
    'database',
    'server',
    'events/s',
    'p50 ms',
    'p99 ms',
    'server CPU ms/req',
    'pg CPU ms/req',
    'events/s per round',
    'failures',
    'hub/bare',
  ];
  const cpu = (v) => (v === null ? 'n/a' : v.toFixed(2));
  const rows = [];
  for (const r of results) {
    const ratio = r.hub.perSecond / r.bare.perSecond;
    for (const name of r.servers) {
      const s = r[name];
      rows.push([
        r.label,
        name,
        s.perSecond.toFixed(0),
        s.p50.toFixed(2),
        s.p99.toFixed(2),
        cpu(s.serverCpuMs),
        r.kind === 'postgres' ? cpu(s.dbCpuMs) : '(in server)',
        s.each.map((v) => v.toFixed(0)).join(' / '),
        String(s.failures),
        // Other servers: (hub/that server), in brackets.
        name === HUB ? ratio.toFixed(2) : name === 'bare' ? '' : `(${(r.hub.perSecond / s.perSecond).toFixed(2)})`,
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const numeric = new Set([2, 3, 4, 5, 6, 8, 9]);
  const format = (row) =>
    row.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) {
    console.log(format(row));
  }
}

/**
 * What authentication adds to a request: the hub against hub-no-auth on one database. The added
 * figures are the median of the per-round differences (the two ran back to back in each round, so
 * drift over the run cancels out); the difference of the medians in the rows above is shown too.
 */
function printAuthenticationCost(r) {
  const auth = r[HUB];
  const noAuth = r[HUB_NO_AUTH];
  const ms = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(2)} ms`;
  const pct = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
  // A closed loop keeps `concurrency` requests in flight, so mean latency = concurrency / throughput (Little's law).
  const addedMeanMs = (authPerSecond, noAuthPerSecond) =>
    settings.concurrency * (1000 / authPerSecond - 1000 / noAuthPerSecond);
  const rounds = auth.each.map((_, i) => i);
  const p50Added = rounds.map((i) => auth.p50Each[i] - noAuth.p50Each[i]);
  const meanAdded = rounds.map((i) => addedMeanMs(auth.each[i], noAuth.each[i]));
  const noAuthMeanMs = (settings.concurrency * 1000) / noAuth.perSecond;
  const row = (s) =>
    `${s.perSecond.toFixed(0).padStart(6)} events/s  p50 ${s.p50.toFixed(2).padStart(6)} ms  p99 ${s.p99.toFixed(2).padStart(7)} ms`;
  console.log(`${r.label}: the added cost of authentication per request (device token), hub vs hub-no-auth`);
  console.log(`  hub (auth)              ${row(auth)}  (medians of rounds)`);
  console.log(`  hub (no auth)           ${row(noAuth)}  (principals memoized: no authentication round trip)`);
  console.log(
    `  added, from p50:        ${ms(median(p50Added))} per request (${pct((median(p50Added) / noAuth.p50) * 100)} of the no-auth p50);` +
      ` rounds ${p50Added.map(ms).join(' / ')}; difference of the medians ${ms(auth.p50 - noAuth.p50)}`,
  );
  console.log(
    `  added, from throughput: ${ms(median(meanAdded))} per request (${pct((median(meanAdded) / noAuthMeanMs) * 100)} of the no-auth mean latency);` +
      ` rounds ${meanAdded.map(ms).join(' / ')}; from the medians ${ms(addedMeanMs(auth.perSecond, noAuth.perSecond))}`,
  );
  console.log(
    `                          = concurrency ${settings.concurrency} x (1/(events/s with auth) - 1/(events/s without)): the added mean latency` +
      ` (Little's law); events/s ${pct((auth.perSecond / noAuth.perSecond - 1) * 100)} (medians)`,
  );
  if (auth.serverCpuMs !== null && noAuth.serverCpuMs !== null) {
    console.log(
      `  added CPU per request:  server ${ms(auth.serverCpuMs - noAuth.serverCpuMs)} (${auth.serverCpuMs.toFixed(2)} vs ${noAuth.serverCpuMs.toFixed(2)})` +
        (auth.dbCpuMs !== null && noAuth.dbCpuMs !== null
          ? `, postgres backends ${ms(auth.dbCpuMs - noAuth.dbCpuMs)} (${auth.dbCpuMs.toFixed(2)} vs ${noAuth.dbCpuMs.toFixed(2)})`
          : '') +
        ' (medians)',
    );
  }
}

async function main() {
  const t0 = Date.now();
  console.log(
    `Marvain ingest benchmark: POST /v1/events, hub vs bare Fastify${settings.withoutAuth ? ', and hub with vs without authentication' : ''}`,
  );
  console.log(
    `  node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown cpu'}); ` +
      `load generator runs in this process on the same machine`,
  );
  console.log(
    `  per run: ${settings.warmup} warm-up + ${settings.requests} measured requests, concurrency ${settings.concurrency}, ` +
      `each a transcript_chunk with a unique client_event_id; ${settings.rounds} rounds of ${serverNames().join('/')}` +
      `${settings.withoutAuth ? ' (hub and hub-no-auth swap places every round)' : ''}; figures are medians`,
  );
  console.log(
    '  hub:  dist/hub/main.cjs with MARVAIN_WORKERS=false (planner/tool-runner off, so they do not compete for CPU;',
  );
  console.log(
    '        queued messages are left unconsumed), MARVAIN_LOG_LEVEL=warn, device-token auth on every request',
  );
  if (settings.withoutAuth) {
    console.log(
      '  hub-no-auth: dist/bench/hub-no-auth.cjs, the same app and settings, but PrincipalResolver answers each token from',
    );
    console.log(
      '        memory after its first request: no authentication round trip; the guard and scope check still run',
    );
  }
  console.log(
    '  bare: Fastify 5 + the same Kysely/driver stack from libs/db, same INSERTs in one transaction; NO auth,',
  );
  console.log(
    '        no DTO validation and no token lookup: those (1 extra read per request in the hub) are part of the',
  );
  console.log('        overhead measured here');
  console.log('  CPU/req: CPU time per measured request of the server process (for PGlite that includes the database)');
  console.log(
    '        and of its PostgreSQL backends (from /proc); less sensitive than events/s to whatever else runs here',
  );
  const load = os.loadavg()[0];
  if (load > 0.5) {
    console.log(
      `  NOTE: load average before start is ${load.toFixed(2)} on ${os.cpus().length} cores: other processes compete`,
    );
  }

  const hubBundle = await bundle('hub');
  const hubNoAuthBundle = settings.withoutAuth
    ? await bundleScript(
        path.join(root, 'tools', 'bench', 'hub-no-auth.ts'),
        path.join(root, 'dist', 'bench', 'hub-no-auth.cjs'),
      )
    : null;
  const bareBundle = path.join(root, 'dist', 'bench', 'bare-server.cjs');
  await build({
    entryPoints: [path.join(root, 'tools', 'bench', 'bare-server.mjs')],
    outfile: bareBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  const built = [hubBundle, hubNoAuthBundle, bareBundle].filter(Boolean).map((file) => path.relative(root, file));
  console.log(`  built ${built.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const bundles = { hub: hubBundle, hubNoAuth: hubNoAuthBundle, bare: bareBundle };

  const results = [];
  const notes = [];
  const deadline = t0 + settings.budgetSeconds * 1000;
  for (const [index, kind] of settings.databases.entries()) {
    const budget = { deadline, databasesAfter: settings.databases.length - index - 1 };
    if (kind === 'pglite') {
      results.push(await benchDatabase({ kind: 'pglite', label: 'PGlite' }, bundles, budget));
    } else if (kind === 'postgres') {
      const target = await postgresTargets();
      if (target.skip) {
        console.log(`\n== PostgreSQL ==\n  NOTE: ${target.skip}`);
        notes.push(target.skip);
        continue;
      }
      console.log(
        `\n  (PostgreSQL ${target.version} at ${redact(settings.pgAdminUrl)}, fresh databases ${Object.values(target.names).join(', ')})`,
      );
      results.push(await benchDatabase(target, bundles, budget));
    } else {
      throw new Error(`unknown database "${kind}" in BENCH_DATABASES (pglite, postgres)`);
    }
  }

  console.log('\n== results (median of rounds) ==');
  if (results.length) {
    printTable(results);
  }
  console.log('');
  for (const r of results) {
    const ratio = r.hub.perSecond / r.bare.perSecond;
    console.log(
      `${r.label}: ratio hub/bare (events/s): ${ratio.toFixed(2)} (aim >= 0.80)${ratio < 0.8 ? '  <-- below aim' : ''}`,
    );
    if (r.hub.serverCpuMs !== null && r.bare.serverCpuMs !== null) {
      const pad = ' '.repeat(r.label.length + 2);
      console.log(
        `${pad}server CPU per event: hub ${r.hub.serverCpuMs.toFixed(2)} ms vs bare ${r.bare.serverCpuMs.toFixed(2)} ms` +
          ` (+${(r.hub.serverCpuMs - r.bare.serverCpuMs).toFixed(2)} ms, ratio bare/hub ${(r.bare.serverCpuMs / r.hub.serverCpuMs).toFixed(2)})`,
      );
      if (r.hub.dbCpuMs !== null && r.bare.dbCpuMs !== null) {
        console.log(
          `${pad}postgres backend CPU per event: hub ${r.hub.dbCpuMs.toFixed(2)} ms vs bare ${r.bare.dbCpuMs.toFixed(2)} ms`,
        );
      }
    }
    const reads = r['bare+reads'];
    if (reads) {
      const pad = ' '.repeat(r.label.length + 2);
      console.log(
        `${pad}hub/(bare+reads) (events/s): ${(r.hub.perSecond / reads.perSecond).toFixed(2)}: the framework part of the gap;` +
          ` (bare+reads)/bare: ${(reads.perSecond / r.bare.perSecond).toFixed(2)}: the authentication read` +
          (reads.serverCpuMs !== null ? `; bare+reads server CPU ${reads.serverCpuMs.toFixed(2)} ms/event` : ''),
      );
    }
  }
  if (settings.withoutAuth) {
    for (const r of results) {
      console.log('');
      printAuthenticationCost(r);
    }
  }
  for (const note of notes) {
    console.log(`NOTE: ${note}`);
  }
  const failures = results.reduce((n, r) => n + r.servers.reduce((m, name) => m + r[name].failures, 0), 0);
  if (failures) {
    console.log(`\n${failures} request(s) did not get a proper 202; see the FAILURES lines above`);
  }
  console.log(`\ntotal time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return failures ? 1 : 0;
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  if (!interrupted) {
    console.error(`\nbench failed: ${error?.stack ?? error}`);
  }
} finally {
  await cleanup();
}
process.exit(exitCode);
