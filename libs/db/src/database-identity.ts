import { sql, type Kysely } from 'kysely';
import type { DatabaseTarget } from './database';
import type { Database } from './schema';

/** What start-up knows about the database's identity before it writes anything. */
export interface DatabaseIdentityState {
  /** No schema at all: a database nothing has been written to yet. */
  fresh: boolean;
  /** The random id migration 0006 gave this database; null when fresh or older than 0006. */
  databaseId: string | null;
}

/** Reads the database's identity without writing (two statements, at start-up only). */
export async function readDatabaseIdentity(db: Kysely<Database>): Promise<DatabaseIdentityState> {
  const tables = await sql<{ migrated: boolean; identified: boolean }>`
    SELECT to_regclass('schema_migrations') IS NOT NULL AS migrated, to_regclass('database_identity') IS NOT NULL AS identified`.execute(
    db,
  );
  const found = tables.rows[0];
  if (!found?.identified) {
    return { fresh: !found?.migrated, databaseId: null };
  }
  const row = await db.selectFrom('database_identity').select('database_id').executeTakeFirst();
  return { fresh: false, databaseId: row?.database_id ?? null };
}

/**
 * Something bound to one database (the local audit folder): checked before the database is
 * opened and before anything is written to it, and told the database's identity afterwards.
 */
export interface DatabaseBinding {
  /** Before opening: opening an embedded database that does not exist creates it. */
  beforeOpen(target: DatabaseTarget): Promise<void>;
  /** Before migrations or any other write; throws to stop start-up. */
  check(state: DatabaseIdentityState, target: DatabaseTarget): Promise<void>;
  /** Once the database has its identity: bind to it (idempotent). */
  record(databaseId: string): Promise<void>;
}

export const DATABASE_BINDING = Symbol('DatabaseBinding');
