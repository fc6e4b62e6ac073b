import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Principal } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import {
  eventually,
  insertAgents,
  openFeatureTestContext,
  testHubConfig,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { TestStreamPublisherModule } from '@marvain/streams/testing';
import { MAINTENANCE_INTERVAL_MS } from './maintenance';
import { PresenceModule } from './presence.module';
import { PRESENCE_OFFLINE_AFTER_SECONDS, PresenceService } from './presence.service';

jest.setTimeout(60_000);

describe(`the maintenance worker (${testDatabaseKind()})`, () => {
  const statusOf = async (context: FeatureTestContext, subjectId: string): Promise<string | undefined> =>
    (
      await sql<{ status: string }>`SELECT status FROM presence WHERE subject_id = ${subjectId}::uuid`.execute(
        context.db.db,
      )
    ).rows[0]?.status;

  async function staleUser(context: FeatureTestContext): Promise<Principal> {
    const [agentId] = await insertAgents(context.db.db, ['A']);
    const user: Principal = { type: 'user', id: randomUUID(), agents: [{ agent_id: agentId, scopes: [] }] };
    await context.moduleRef.get(PresenceService).connected(user);
    await sql`UPDATE presence SET last_seen = now() - (${PRESENCE_OFFLINE_AFTER_SECONDS + 1}::integer * interval '1 second')
              WHERE subject_id = ${user.id}::uuid`.execute(context.db.db);
    return user;
  }

  it('runs in a process with workers, and takes stale presence offline on its own', async () => {
    const context = await openFeatureTestContext([TestStreamPublisherModule, PresenceModule], {
      config: testHubConfig({ workers: true }),
      customize: (builder) => builder.overrideProvider(MAINTENANCE_INTERVAL_MS).useValue(20),
    });
    try {
      const user = await staleUser(context);
      await eventually(
        async () => ((await statusOf(context, user.id)) === 'offline' ? true : undefined),
        'the worker to sweep',
      );
    } finally {
      await context.close();
    }
  });
});
