import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';
import { splitSqlStatements } from './sql-split';

export interface MigrationFile {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  schemaVersion: string | null;
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any constant works; it only has to be the same for every migrator of this schema.
const MIGRATION_LOCK_KEY = 7_361_902_113;

/** The migrations folder: MARVAIN_MIGRATIONS_DIR, or the nearest `migrations/` above this file. */
export function findMigrationsDir(start = __dirname): string {
  const fromEnv = process.env['MARVAIN_MIGRATIONS_DIR'];
  if (fromEnv) {
    return fromEnv;
  }
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'migrations');
    if (existsSync(path.join(candidate, '0001_extensions.sql'))) {
      return candidate;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`no migrations folder found above ${start}; set MARVAIN_MIGRATIONS_DIR`);
    }
  }
}

export function loadMigrations(dir = findMigrationsDir()): MigrationFile[] {
  return readdirSync(dir)
    .filter((file) => FILE_PATTERN.test(file))
    .sort()
    .map((file) => {
      const [, version, name] = FILE_PATTERN.exec(file) as RegExpExecArray;
      const text = readFileSync(path.join(dir, file), 'utf8');
      return {
        version: version as string,
        name: name as string,
        sql: text,
        checksum: createHash('sha256').update(text).digest('hex'),
      };
    });
}

/**
 * Applies every migration not yet recorded, each in its own transaction under an advisory
 * lock, so concurrent migrators (two Lambdas, a CLI and a hub) apply each file once.
 * Running it again applies nothing; each file is also idempotent on its own.
 */
export async function migrate(db: Kysely<Database>, migrations = loadMigrations()): Promise<MigrationResult> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`.execute(db);

  const applied: string[] = [];
  for (const migration of migrations) {
    const ran = await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`.execute(trx);
      const existing = await trx
        .selectFrom('schema_migrations')
        .select(['checksum'])
        .where('version', '=', migration.version)
        .executeTakeFirst();
      if (existing) {
        if (existing.checksum !== migration.checksum) {
          throw new Error(
            `migration ${migration.version}_${migration.name} changed after it was applied; add a new migration instead of editing it`,
          );
        }
        return false;
      }
      for (const statement of splitSqlStatements(migration.sql)) {
        await sql.raw(statement).execute(trx);
      }
      await trx
        .insertInto('schema_migrations')
        .values({ version: migration.version, name: migration.name, checksum: migration.checksum })
        .execute();
      return true;
    });
    if (ran) {
      applied.push(migration.version);
    }
  }
  return { applied, schemaVersion: await schemaVersion(db) };
}

export async function schemaVersion(db: Kysely<Database>): Promise<string | null> {
  const row = await db
    .selectFrom('schema_migrations')
    .select((eb) => eb.fn.max('version').as('version'))
    .executeTakeFirst();
  return row?.version ?? null;
}

export async function vectorAvailable(db: Kysely<Database>): Promise<boolean> {
  const result = await sql<{
    available: boolean;
  }>`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS available`.execute(db);
  return result.rows[0]?.available === true;
}
