import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { useFakeAwsCredentials } from '@marvain/testing';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from '../database';
import { loadMigrations, migrate } from '../migrator';

/**
 * A fresh, migrated database for one test file.
 * - Default: embedded PGlite in memory, cloned from a migrated template dump (≈0.8 s instead of ≈4 s).
 * - With DATABASE_URL set: a new database created on that PostgreSQL server, dropped on close.
 * - With MARVAIN_TEST_DB=data-api: either of those behind the local RDS Data API endpoint
 *   (tools/data-api), started in-process; the handle talks to it through kysely-data-api and the
 *   real RDSDataClient, exactly as the AWS runtime talks to Aurora.
 */
export interface TestDatabase extends DatabaseHandle {
  readonly label: string;
  /** The local Data API endpoint, when the handle goes through one (MARVAIN_TEST_DB=data-api). */
  readonly dataApi?: LocalDataApiEndpoint;
}

/** What tests see of tools/data-api/server.ts (DataApiServer there). */
export interface LocalDataApiEndpoint {
  readonly endpoint: string;
  readonly calls: {
    total(tag?: string): number;
    byOperation(tag: string): Record<string, number | undefined>;
    snapshot(): Record<string, Record<string, number | undefined>>;
    reset(): void;
  };
  openTransactions(): number;
  close(): Promise<void>;
}

interface LocalDataApiModule {
  startDataApiServer: (options: {
    database: { pglite: NonNullable<DatabaseHandle['pglite']>; closeOnStop?: boolean } | { url: string };
    resourceArn: string;
    secretArn: string;
    databaseName: string;
    onError?: (operation: string, body: Record<string, unknown>, error: Error & { type: string }) => void;
  }) => Promise<LocalDataApiEndpoint>;
}

/**
 * The endpoint is a development tool (tools/data-api, `@marvain/data-api`), not part of any
 * library; the test helper loads it only in data-api mode.
 */
async function loadLocalDataApi(): Promise<LocalDataApiModule> {
  return import('@marvain/data-api');
}

/** The kind of handle createTestDatabase() returns in this run. */
export function testDatabaseKind(): DatabaseKind {
  if (process.env['MARVAIN_TEST_DB'] === 'data-api') {
    return 'data-api';
  }
  return testDatabaseEngine();
}

/** The database engine that finally runs the SQL: behind the Data API endpoint too. */
export function testDatabaseEngine(): 'pglite' | 'postgres' {
  return process.env['DATABASE_URL'] ? 'postgres' : 'pglite';
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const shouldMigrate = options.migrate ?? true;
  if (process.env['MARVAIN_TEST_DB'] === 'data-api') {
    return createDataApiDatabase(shouldMigrate);
  }
  return createDirectDatabase(shouldMigrate);
}

async function createDirectDatabase(shouldMigrate: boolean): Promise<TestDatabase> {
  const url = process.env['DATABASE_URL'];
  if (url) {
    return createPostgresDatabase(url, shouldMigrate);
  }
  if (!shouldMigrate) {
    return { ...(await openDatabase({ kind: 'pglite', dataDir: 'memory' })), label: 'pglite(empty)' };
  }
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
  if (shouldMigrate) {
    await migrate(handle.db);
  }
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

/** What the test handle's Data API client is told; the local endpoint accepts only these. */
export const TEST_DATA_API_TARGET = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:marvain-local',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:marvain-local',
  database: 'marvain',
  region: 'us-east-1',
} as const;

/**
 * The backing database (fresh PGlite, or a fresh PostgreSQL database with DATABASE_URL), migrated
 * directly, behind a local Data API endpoint; the handle reaches it only through the Data API.
 */
async function createDataApiDatabase(shouldMigrate: boolean): Promise<TestDatabase> {
  useFakeAwsCredentials();
  const backing = await createDirectDatabase(shouldMigrate);
  const url = process.env['DATABASE_URL'];
  try {
    const { startDataApiServer } = await loadLocalDataApi();
    const server = await startDataApiServer({
      // The backing handle's own Kysely is never used, so closing it would not close PGlite: the endpoint does.
      database: backing.pglite
        ? { pglite: backing.pglite, closeOnStop: true }
        : { url: postgresUrlOf(url as string, backing.label) },
      resourceArn: TEST_DATA_API_TARGET.resourceArn,
      secretArn: TEST_DATA_API_TARGET.secretArn,
      databaseName: TEST_DATA_API_TARGET.database,
      ...(process.env['MARVAIN_DATA_API_LOG'] === 'errors'
        ? {
            onError: (operation, body, error) =>
              process.stderr.write(
                `data-api ${operation} ${error.type}: ${error.message}\n  sql: ${typeof body['sql'] === 'string' ? body['sql'] : ''}\n`,
              ),
          }
        : {}),
    });
    const handle = await openDatabase({ kind: 'data-api', endpoint: server.endpoint, ...TEST_DATA_API_TARGET });
    return {
      ...handle,
      label: `data-api(${backing.label})`,
      dataApi: server,
      close: async () => {
        await handle.close();
        await server.close();
        await backing.close();
      },
    };
  } catch (error) {
    await backing.close();
    throw error;
  }
}

/** The URL of the database createPostgresDatabase made (its name is in the label). */
function postgresUrlOf(url: string, label: string): string {
  const name = /^postgres\((.+)\)$/.exec(label)?.[1];
  if (!name) {
    throw new Error(`not a test PostgreSQL database: ${label}`);
  }
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${name}`;
  return dbUrl.toString();
}

/** A dump of a freshly migrated PGlite, cached on disk per migrations checksum. */
async function migratedTemplate(): Promise<Buffer> {
  const key = loadMigrations()
    .map((m) => m.checksum.slice(0, 12))
    .join('-');
  const file = path.join(tmpdir(), `marvain-pglite-template-${hash(key)}.tar`);
  if (existsSync(file)) {
    return readFileSync(file);
  }
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
