import { rmSync } from 'node:fs';
import { Test, type TestingModule } from '@nestjs/testing';
import { DomainError, ErrorCode, type Principal } from '@marvain/contracts';
import { DbModule, TransactionRunner } from '@marvain/db';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import { PlatformModule, type HubConfig } from '@marvain/platform';
import { testHubConfig } from '@marvain/platform/testing';
import { SpacesModule } from './spaces.module';
import { SpacesService } from './spaces.service';
import { sql } from 'kysely';

async function errorOf(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('expected a DomainError');
}

describe(`SpacesService (${testDatabaseKind()})`, () => {
  let db: TestDatabase;
  let config: HubConfig;
  let moduleRef: TestingModule;
  let spaces: SpacesService;
  let agentA: string;
  let agentB: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    config = testHubConfig();
    moduleRef = await Test.createTestingModule({
      imports: [DbModule.forRoot({ target: config.database, migrate: false, handle: db }), PlatformModule.forRoot(config), SpacesModule],
    }).compile();
    spaces = moduleRef.get(SpacesService);
    const agents = await sql<{ agent_id: string }>`INSERT INTO agents (name) VALUES ('a'), ('b') RETURNING agent_id`.execute(db.db);
    [agentA, agentB] = agents.rows.map((r) => r.agent_id) as [string, string];
  });
  afterAll(async () => {
    await moduleRef.close();
    await db.close();
    rmSync(config.dataDir, { recursive: true, force: true });
  });

  it('creates a space once per agent and name, returning the existing one after that', async () => {
    const transactions = moduleRef.get(TransactionRunner);
    const first = await transactions.run((tx) => spaces.ensure(tx, agentA, 'home'));
    const again = await transactions.run((tx) => spaces.ensure(tx, agentA, 'home'));
    const other = await transactions.run((tx) => spaces.ensure(tx, agentB, 'home'));
    expect(first.created).toBe(true);
    expect(again).toEqual({ space: first.space, created: false });
    expect(other.created).toBe(true);
    expect(other.space.space_id).not.toBe(first.space.space_id);
  });

  it("answers another agent's space exactly like a missing one, and a missing scope with forbidden", async () => {
    const transactions = moduleRef.get(TransactionRunner);
    const { space } = await transactions.run((tx) => spaces.ensure(tx, agentB, 'garage'));
    const outsider: Principal = { type: 'user', id: 'u', agents: [{ agent_id: agentA, scopes: ['events:write'] }] };
    const missing = await errorOf(spaces.getForPrincipal(outsider, '00000000-0000-4000-8000-000000000000', 'events:write'));
    const foreign = await errorOf(spaces.getForPrincipal(outsider, space.space_id, 'events:write'));
    expect(foreign.code).toBe(ErrorCode.NotFound);
    expect(foreign.message).toBe(missing.message.replace('00000000-0000-4000-8000-000000000000', space.space_id));
    expect(foreign.message).not.toContain(agentB);

    const reader: Principal = { type: 'device', id: 'd', agents: [{ agent_id: agentB, scopes: ['spaces:read'] }] };
    expect((await errorOf(spaces.getForPrincipal(reader, space.space_id, 'events:write'))).code).toBe(ErrorCode.Forbidden);
    await expect(spaces.getForPrincipal(reader, space.space_id, 'spaces:read')).resolves.toMatchObject({ space_id: space.space_id, agent_id: agentB });
  });
});
