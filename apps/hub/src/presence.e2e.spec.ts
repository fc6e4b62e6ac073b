import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { PRESENCE_MISSED_HEARTBEATS, HEARTBEAT_INTERVAL_SECONDS, type StreamEntry } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { MaintenanceService } from '@marvain/presence';
import { AgentStream, LocalStreamBus } from '@marvain/streams';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

jest.setTimeout(60_000);

describe(`presence over HTTP (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  let other: BootstrapResult;
  const published: StreamEntry[] = [];

  beforeAll(async () => {
    hub = await openHubTestServer();
    home = await hub.bootstrap();
    other = await hub.bootstrap('Elsewhere', 'away');
    hub.app.get(LocalStreamBus).listen((entries) => published.push(...entries));
  });
  afterAll(() => hub.close());

  const heartbeat = (token: string, body: Record<string, unknown>) =>
    hub.call('POST', '/v1/devices/heartbeat', token, body);
  const presenceUpdates = async (agentId: string) =>
    (await hub.app.get(AgentStream).read(agentId, 1, { topics: ['presence.updated'] })).map((e) => ({
      seq: e.seq,
      space_id: e.space_id,
      subject_id: e.data['subject_id'],
      status: e.data['status'],
    }));

  it('shows a heartbeating device in its space, streams its transitions only, and lets it go offline when it stops', async () => {
    const before = await presenceUpdates(home.agent_id);

    const first = await heartbeat(home.device_token, { space_id: home.space_id });
    expect(first.status).toBe(200);
    const bySpace = await hub.call('GET', `/v1/spaces/${home.space_id}/presence`, home.user_token);
    expect(bySpace.status).toBe(200);
    expect(bySpace.json).toEqual({
      presence: [
        {
          agent_id: home.agent_id,
          space_id: home.space_id,
          subject_type: 'device',
          subject_id: home.device_id,
          status: 'online',
          last_seen: first.json.last_heartbeat_at,
        },
      ],
    });

    expect((await heartbeat(home.device_token, { space_id: home.space_id })).status).toBe(200);
    expect((await heartbeat(home.device_token, { space_id: home.space_id, status: 'away' })).status).toBe(200);
    const byAgent = await hub.call('GET', `/v1/agents/${home.agent_id}/presence`, home.user_token);
    expect(byAgent.json.presence).toEqual([
      expect.objectContaining({ subject_id: home.device_id, space_id: home.space_id, status: 'away' }),
    ]);

    // The device falls silent for longer than the missed-heartbeat window; maintenance notices.
    await sql`UPDATE presence SET last_seen = now() - (${HEARTBEAT_INTERVAL_SECONDS * PRESENCE_MISSED_HEARTBEATS + 1}::integer * interval '1 second')
              WHERE subject_id = ${home.device_id}::uuid`.execute(hub.kysely);
    await hub.app.get(MaintenanceService).run();
    const after = await hub.call('GET', `/v1/spaces/${home.space_id}/presence`, home.user_token);
    expect(after.json.presence).toEqual([expect.objectContaining({ subject_id: home.device_id, status: 'offline' })]);

    const updates = (await presenceUpdates(home.agent_id)).slice(before.length);
    expect(updates.map(({ space_id, subject_id, status }) => ({ space_id, subject_id, status }))).toEqual([
      { space_id: home.space_id, subject_id: home.device_id, status: 'online' },
      { space_id: home.space_id, subject_id: home.device_id, status: 'away' },
      { space_id: home.space_id, subject_id: home.device_id, status: 'offline' },
    ]);
    // Each committed transition was handed to the hub's subscribers, in order.
    expect(
      published.filter((e) => e.agent_id === home.agent_id && e.topic === 'presence.updated').map((e) => e.seq),
    ).toEqual(updates.map((u) => u.seq));
  });

  it("answers another agent's agent or space like a missing one, and a token without spaces:read with 403", async () => {
    const missing = randomUUID();
    for (const [url, foreign] of [
      [`/v1/agents/${other.agent_id}/presence`, other.agent_id],
      [`/v1/spaces/${other.space_id}/presence`, other.space_id],
    ] as const) {
      const refused = await hub.call('GET', url, home.user_token);
      const absent = await hub.call('GET', url.replace(foreign, missing), home.user_token);
      expect(refused.status).toBe(404);
      expect(refused.json.error.code).toBe('not_found');
      expect(refused.json.error.message.replace(foreign, '<id>')).toBe(
        absent.json.error.message.replace(missing, '<id>'),
      );
    }

    const device = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: 'mute',
      scopes: ['presence:write'],
    });
    const forbidden = await hub.call('GET', `/v1/agents/${home.agent_id}/presence`, device.json.token);
    expect(forbidden.status).toBe(403);
    expect((await hub.call('GET', `/v1/agents/not-a-uuid/presence`, home.user_token)).status).toBe(400);
  });
});
