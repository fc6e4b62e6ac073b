import { mkdirSync } from 'node:fs';
import { Kysely, PostgresDialect, type Dialect } from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import type { Database } from './schema';
import { PGlitePool as PGlitePoolAdapter } from './pglite-pool';

export type DatabaseKind = 'pglite' | 'postgres' | 'data-api';

/** Where the hub's database is. Exactly one of these, chosen from config at start-up. */
export type DatabaseTarget =
  /** dataDir is a folder, or the string 'memory' for an in-memory database. */
  | { kind: 'pglite'; dataDir: string; loadDataDir?: Blob }
  | { kind: 'postgres'; url: string; poolSize?: number }
  | { kind: 'data-api'; resourceArn: string; secretArn: string; database: string; endpoint?: string; region?: string };

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  /** The embedded instance, when there is one (tests dump it to clone databases fast). */
  readonly pglite?: PGlite;
  close(): Promise<void>;
}

/**
 * Each driver is loaded when its kind is opened, never at import: nothing pays for the drivers
 * it does not use, and the Lambda bundles leave PGlite out (tools/build/bundle.mjs puts a module
 * that throws in its place, so opening a PGlite target there fails with this message).
 */
async function loadPglite(): Promise<typeof import('./pglite-driver')> {
  try {
    return await import('./pglite-driver');
  } catch (error) {
    throw new Error(
      `the embedded database (PGlite) is not available in this build: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * Connects once to a PostgreSQL target and disconnects, so a wrong or unreachable DATABASE_URL is
 * reported (with the URL's password left out) before the slow start-up work. Other kinds pass.
 */
export async function probeDatabase(target: DatabaseTarget): Promise<void> {
  if (target.kind !== 'postgres') {
    return;
  }
  const { Client } = await import('pg');
  const client = new Client({ connectionString: target.url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    let where = 'the database';
    try {
      const url = new URL(target.url);
      where = `${url.hostname}:${url.port || '5432'}${url.pathname}`;
    } catch {
      // The URL was validated at start-up; a message without its parts is still clear.
    }
    throw new Error(
      `DATABASE_URL: cannot connect to ${where}: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function openDatabase(target: DatabaseTarget): Promise<DatabaseHandle> {
  switch (target.kind) {
    case 'pglite': {
      const { PGlite, types, vector, pgcrypto } = await loadPglite();
      if (target.dataDir !== 'memory') {
        mkdirSync(target.dataDir, { recursive: true });
      }
      const pglite = await PGlite.create({
        ...(target.dataDir === 'memory' ? {} : { dataDir: target.dataDir }),
        ...(target.loadDataDir === undefined ? {} : { loadDataDir: target.loadDataDir }),
        extensions: { vector, pgcrypto },
        parsers: { [types.INT8]: (value: string) => value },
      });
      const pool = new PGlitePoolAdapter(pglite);
      // Kysely's destroy() ends the pool, which closes the PGlite instance.
      return handle(new PostgresDialect({ pool: pool as never }), 'pglite', () => Promise.resolve(), pglite);
    }
    case 'postgres': {
      const { Pool, types: pgTypes } = await import('pg');
      // bigint columns (seq, counts) read back as decimal strings everywhere, as node-postgres does.
      pgTypes.setTypeParser(pgTypes.builtins.INT8, (value: string) => value);
      const pool = new Pool({ connectionString: target.url, max: target.poolSize ?? 10 });
      // An idle connection the server drops (restart, failover, idle timeout) is discarded by the
      // pool; without a listener node would treat the emitted error as fatal and stop the hub.
      pool.on('error', (error) => {
        process.emitWarning(`PostgreSQL dropped an idle connection: ${error.message}`, {
          code: 'MARVAIN_PG_IDLE_ERROR',
        });
      });
      // The pool removes its listener while a connection is checked out (inside a transaction,
      // between statements); a drop then fails that transaction's next statement, and this
      // listener keeps the emitted error from ending the process.
      pool.on('connect', (client) => {
        client.on('error', (error) => {
          process.emitWarning(`PostgreSQL dropped a connection in use: ${error.message}`, {
            code: 'MARVAIN_PG_CONNECTION_ERROR',
          });
        });
      });
      return handle(new PostgresDialect({ pool }), 'postgres', () => Promise.resolve());
    }
    case 'data-api': {
      const [{ RDSData }, { DataApiDialect }] = await Promise.all([
        import('@aws-sdk/client-rds-data'),
        import('kysely-data-api'),
      ]);
      const client = new RDSData({
        ...(target.endpoint ? { endpoint: target.endpoint } : {}),
        ...(target.region ? { region: target.region } : {}),
      });
      const dialect = withTolerantRollback(
        new DataApiDialect({
          mode: 'postgres',
          driver: { client, database: target.database, secretArn: target.secretArn, resourceArn: target.resourceArn },
        }),
      );
      return handle(dialect, 'data-api', () => {
        client.destroy();
        return Promise.resolve();
      });
    }
  }
}

function handle(dialect: Dialect, kind: DatabaseKind, close: () => Promise<void>, pglite?: PGlite): DatabaseHandle {
  const db = new Kysely<Database>({ dialect });
  let closed = false;
  return {
    db,
    kind,
    ...(pglite === undefined ? {} : { pglite }),
    close: async () => {
      if (closed) {
        return;
      }
      closed = true;
      await db.destroy().catch(() => undefined);
      await close();
    },
  };
}

/**
 * The Data API ends a transaction itself when a statement in it fails, so Kysely's rollback
 * that follows answers TransactionNotFoundException, and Kysely would throw that instead of the
 * statement's own error (turning, say, a unique violation's 409 into a 500). A rollback of a
 * transaction the service already ended has nothing left to do.
 */
function withTolerantRollback<D extends Dialect>(dialect: D): D {
  const createDriver = dialect.createDriver.bind(dialect);
  dialect.createDriver = () => {
    const driver = createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      try {
        await rollback(connection);
      } catch (error) {
        if ((error as { name?: string } | null)?.name !== 'TransactionNotFoundException') {
          throw error;
        }
      }
    };
    return driver;
  };
  return dialect;
}
