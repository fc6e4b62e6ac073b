import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { sql } from 'kysely';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

describe(`GET /v1/audit/verify with a conflicting write-once object (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let a: BootstrapResult;
  let b: BootstrapResult;

  beforeAll(async () => {
    hub = await openHubTestServer();
    a = await hub.bootstrap('A', 'home');
    b = await hub.bootstrap('B', 'home');
  });
  afterAll(() => hub.close());

  const lastSeq = async (agentId: string): Promise<number> =>
    Number(
      (
        await sql<{ seq: string }>`SELECT last_seq::text AS seq FROM audit_state WHERE chain_id = ${agentId}`.execute(
          hub.kysely,
        )
      ).rows[0]?.seq,
    );

  it('answers ok:false naming the entry, for that agent only, and other chains are still copied', async () => {
    const errorLog = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      // Another database's entry already sits where A's next entry will be copied.
      const next = (await lastSeq(a.agent_id)) + 1;
      const file = path.join(hub.config.auditDir, 'chains', a.agent_id, `${String(next).padStart(12, '0')}.json`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, '{"from":"another database"}', 'utf8');

      expect((await hub.call('POST', `/v1/agents/${a.agent_id}/spaces`, a.user_token, { name: 'office' })).status).toBe(
        201,
      );
      expect((await hub.call('POST', `/v1/agents/${b.agent_id}/spaces`, b.user_token, { name: 'office' })).status).toBe(
        201,
      );

      const verifyA = await hub.call('GET', `/v1/audit/verify?agent_id=${a.agent_id}`, a.user_token);
      expect(verifyA).toMatchObject({
        status: 200,
        json: { ok: false, first_bad_seq: next, problems: [{ seq: next, kind: 'wrong_position' }] },
      });
      const verifyB = await hub.call('GET', `/v1/audit/verify?agent_id=${b.agent_id}`, b.user_token);
      expect(verifyB).toMatchObject({ status: 200, json: { ok: true, entries: await lastSeq(b.agent_id) } });
    } finally {
      errorLog.mockRestore();
    }
  });
});
