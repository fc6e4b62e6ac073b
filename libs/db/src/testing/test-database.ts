import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from '../database';
import { loadMigrations, migrate } from '../migrator';

/**
 * A fresh, migrated database for one test file.
 * - Default: embedded PGlite in memory, cloned from a migrated template dump (≈0.8 s instead of ≈4 s).
 * - With DATABASE_URL set: a new database created on that PostgreSQL server, dropped on close.
 */
export interface TestDatabase extends DatabaseHandle {
  readonly label: string;
}

export function testDatabaseKind(): DatabaseKind {
  return process.env['DATABASE_URL'] ? 'postgres' : 'pglite';
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const shouldMigrate = options.migrate ?? true;
  const url = process.env['DATABASE_URL'];
  if (url) return createPostgresDatabase(url, shouldMigrate);
  if (!shouldMigrate) return { ...(await openDatabase({ kind: 'pglite', dataDir: 'memory' })), label: 'pglite(empty)' };
  const template = await migratedTemplate();
  const handle = await openDatabase({ kind: 'pglite', dataDir: 'memory', loadDataDir: new Blob([template]) });
  return { ...handle, label: 'pglite' };
}

async function createPostgresDatabase(url: string, shouldMigrate: boolean): Promise<TestDatabase> {
  const name = `marvain_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: dbUrl.toString(), poolSize: 5 });
  if (shouldMigrate) await migrate(handle.db);
  return {
    ...handle,
    label: `postgres(${name})`,
    close: async () => {
      await handle.close();
      const dropper = new Client({ connectionString: url });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

/** A dump of a freshly migrated PGlite, cached on disk per migrations checksum. */
async function migratedTemplate(): Promise<Buffer> {
  const key = loadMigrations()
    .map((m) => m.checksum.slice(0, 12))
    .join('-');
  const file = path.join(tmpdir(), `marvain-pglite-template-${hash(key)}.tar`);
  if (existsSync(file)) return readFileSync(file);
  const handle = await openDatabase({ kind: 'pglite', dataDir: 'memory' });
  try {
    await migrate(handle.db);
    const dump = await (handle.pglite as NonNullable<DatabaseHandle['pglite']>).dumpDataDir('none');
    const bytes = Buffer.from(await dump.arrayBuffer());
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, bytes);
    renameSync(partial, file);
    return bytes;
  } finally {
    await handle.close();
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
