import { sql, type Kysely } from 'kysely';
import { createTestDatabase, testDatabaseEngine, testDatabaseKind, type TestDatabase } from './testing';
import { loadMigrations, migrate, schemaVersion, vectorAvailable } from './migrator';
import { splitSqlStatements } from './sql-split';
import type { Database } from './schema';

async function schemaSnapshot(db: Kysely<Database>): Promise<string> {
  const columns = await sql<{ t: string }>`
    SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, '') AS t
    FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1`.execute(db);
  const indexes = await sql<{
    t: string;
  }>`SELECT indexdef AS t FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`.execute(db);
  const constraints = await sql<{ t: string }>`
    SELECT conrelid::regclass::text || ':' || pg_get_constraintdef(oid) AS t FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace ORDER BY 1`.execute(db);
  const migrations = await sql<{
    t: string;
  }>`SELECT version || ':' || checksum AS t FROM schema_migrations ORDER BY 1`.execute(db);
  return [...columns.rows, ...indexes.rows, ...constraints.rows, ...migrations.rows].map((r) => r.t).join('\n');
}

describe(`migrations (${testDatabaseKind()})`, () => {
  let handle: TestDatabase;

  beforeAll(async () => {
    handle = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => handle.close());

  it('creates every table the specification requires, and running again changes nothing', async () => {
    const first = await migrate(handle.db);
    expect(first.applied).toEqual(loadMigrations().map((m) => m.version));
    const before = await schemaSnapshot(handle.db);

    const second = await migrate(handle.db);
    expect(second.applied).toEqual([]);
    expect(await schemaSnapshot(handle.db)).toBe(before);
    expect(await schemaVersion(handle.db)).toBe(loadMigrations().at(-1)?.version);

    const tables = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`.execute(handle.db);
    const names = tables.rows.map((r) => r.table_name);
    for (const required of [
      'agents',
      'spaces',
      'devices',
      'people',
      'consent_grants',
      'presence',
      'events',
      'memories',
      'actions',
      'audit_state',
      'users',
      'agent_memberships',
    ]) {
      expect(names).toContain(required);
    }
  });

  it('each migration file is itself safe to run twice', async () => {
    const before = await schemaSnapshot(handle.db);
    for (const migration of loadMigrations()) {
      for (const statement of splitSqlStatements(migration.sql)) {
        await sql.raw(statement).execute(handle.db);
      }
    }
    expect(await schemaSnapshot(handle.db)).toBe(before);
  });

  it('reports vector search as the server has it, with the embedding column only where it exists', async () => {
    const vector = await vectorAvailable(handle.db);
    // Embedded PGlite ships pgvector (also behind the local Data API endpoint); this machine's PostgreSQL 15 does not.
    if (testDatabaseEngine() === 'pglite') {
      expect(vector).toBe(true);
    }
    const column = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'memories' AND column_name = 'embedding'`.execute(
      handle.db,
    );
    expect(column.rows[0]?.n).toBe(vector ? 1 : 0);
  });

  it('enforces at most one active owner per agent in the database', async () => {
    const agent = await sql<{ agent_id: string }>`INSERT INTO agents (name) VALUES ('a') RETURNING agent_id`.execute(
      handle.db,
    );
    const agentId = agent.rows[0]?.agent_id as string;
    const users = await sql<{
      user_id: string;
    }>`INSERT INTO users (subject) VALUES ('u1'), ('u2') RETURNING user_id`.execute(handle.db);
    const [u1, u2] = users.rows.map((r) => r.user_id);
    await sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${agentId}::uuid, ${u1}::uuid, 'owner')`.execute(
      handle.db,
    );
    await expect(
      sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${agentId}::uuid, ${u2}::uuid, 'owner')`.execute(
        handle.db,
      ),
    ).rejects.toThrow(/agent_memberships_one_owner/);
    // A revoked owner no longer counts.
    await sql`UPDATE agent_memberships SET revoked_at = now() WHERE user_id = ${u1}::uuid`.execute(handle.db);
    await sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${agentId}::uuid, ${u2}::uuid, 'owner')`.execute(
      handle.db,
    );
  });

  it('limits action status to the lifecycle states', async () => {
    const agent = await sql<{ agent_id: string }>`INSERT INTO agents (name) VALUES ('b') RETURNING agent_id`.execute(
      handle.db,
    );
    const insert = (status: string) =>
      sql`INSERT INTO actions (action_id, agent_id, kind, payload, status)
          VALUES (gen_random_uuid(), ${agent.rows[0]?.agent_id}::uuid, 'send_message', '{}'::jsonb, ${status})`.execute(
        handle.db,
      );
    await insert('proposed');
    await expect(insert('done')).rejects.toThrow(/check constraint/);
  });
});

describe('splitSqlStatements', () => {
  it('keeps dollar-quoted bodies, quotes and comments intact', () => {
    const script = `-- head; comment\nSELECT 'a;b';\nDO $$ BEGIN PERFORM 1; END $$;\n/* x; y */ SELECT "c;d" FROM t;`;
    expect(splitSqlStatements(script)).toEqual([
      `SELECT 'a;b'`,
      `DO $$ BEGIN PERFORM 1; END $$`,
      `SELECT "c;d" FROM t`,
    ]);
  });
});
