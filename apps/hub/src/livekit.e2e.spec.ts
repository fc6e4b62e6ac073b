import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { TokenVerifier } from 'livekit-server-sdk';
import { ErrorCode } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import { LocalUsersService, type BootstrapResult } from '@marvain/identity';
import { LIVEKIT_TOKENS_PER_WINDOW, LivekitService } from '@marvain/livekit';
import { MaintenanceService } from '@marvain/presence';
import { testHubConfig } from '@marvain/platform/testing';
import { AgentStream } from '@marvain/streams';
import { newAgentKey, openHubTestServer, signAgentAssertion, type HubTestServer } from './testing/hub-test-server';
import { TEST_LIVEKIT, webhookBody, webhookHeaders } from './testing/livekit';

jest.setTimeout(120_000);

interface VideoGrant {
  room?: string;
  roomJoin?: boolean;
  canPublish?: boolean;
  canSubscribe?: boolean;
  canPublishData?: boolean;
  roomAdmin?: boolean;
  roomCreate?: boolean;
  roomList?: boolean;
}

const verifier = new TokenVerifier(TEST_LIVEKIT.apiKey, TEST_LIVEKIT.apiSecret);
const decode = async (token: string) =>
  (await verifier.verify(token)) as { sub?: string; name?: string; exp: number; nbf: number; video?: VideoGrant };

describe(`LiveKit rooms for spaces (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  let other: BootstrapResult;
  let room: string;

  const tokenFor = (token: string | null, spaceId = home.space_id) =>
    hub.call('POST', `/v1/spaces/${spaceId}/livekit-token`, token);

  const user = async (role: string): Promise<{ id: string; token: string }> => {
    const created = await hub.app.get(LocalUsersService).create(`${role}-${randomUUID()}@example.test`, `A ${role}`);
    const added = await hub.call('POST', `/v1/agents/${home.agent_id}/members`, home.user_token, {
      user_id: created.user_id,
      role,
    });
    expect(added.status).toBe(201);
    return { id: created.user_id, token: created.user_token };
  };

  const device = async (
    name: string,
    capabilities: Record<string, unknown>,
    scopes: string[] = ['livekit:join'],
  ): Promise<{ id: string; token: string }> => {
    const created = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name,
      scopes,
      capabilities,
    });
    expect(created.status).toBe(201);
    return { id: created.json.device.device_id as string, token: created.json.token as string };
  };

  const presenceIn = async (spaceId: string) =>
    (await hub.call('GET', `/v1/spaces/${spaceId}/presence`, home.user_token)).json.presence as Array<{
      subject_type: string;
      subject_id: string;
      status: string;
    }>;

  const presenceUpdates = async () =>
    (await hub.app.get(AgentStream).read(home.agent_id, 1, { topics: ['presence.updated'] })).map((e) => ({
      space_id: e.space_id,
      subject_id: e.data['subject_id'],
      status: e.data['status'],
    }));

  const deliver = async (body: string, headers?: Record<string, string>) =>
    hub.call('POST', '/v1/livekit/webhook', null, body, headers ?? (await webhookHeaders(body)));

  beforeAll(async () => {
    hub = await openHubTestServer({ config: testHubConfig({ livekit: TEST_LIVEKIT }) });
    home = await hub.bootstrap('Forge', 'kitchen');
    other = await hub.bootstrap('Elsewhere', 'garage');
    room = `marvain-${home.agent_id}-${home.space_id}`;
  });
  afterAll(() => hub.close());

  describe('join tokens', () => {
    it('gives the owner a token to publish and subscribe in the space’s room only, valid for 600 s', async () => {
      const reply = await tokenFor(home.user_token);
      expect(reply.status).toBe(200);
      expect(reply.json).toMatchObject({
        url: TEST_LIVEKIT.url,
        room,
        identity: `user:${home.user_id}`,
        grants: { room, room_join: true, can_subscribe: true, can_publish: true, can_publish_data: true },
      });
      const claims = await decode(reply.json.token as string);
      expect(claims.sub).toBe(`user:${home.user_id}`);
      expect(claims.name).toBe('Owner');
      expect(claims.video).toEqual({
        room,
        roomJoin: true,
        canSubscribe: true,
        canPublish: true,
        canPublishData: true,
        roomAdmin: false,
        roomCreate: false,
        roomList: false,
      });
      expect(claims.exp - claims.nbf).toBe(600);
      expect(reply.json.expires_at).toBe(new Date(claims.exp * 1000).toISOString());
      expect(Date.parse(reply.json.expires_at as string) - Date.now()).toBeLessThanOrEqual(600_000);
    });

    it('names the same room for every caller of the space, and another room for another space', async () => {
      const member = await user('member');
      const a = await tokenFor(home.user_token);
      const b = await tokenFor(member.token);
      expect(b.json.room).toBe(a.json.room);
      expect((await decode(b.json.token as string)).video?.room).toBe(room);
      const otherSpace = await tokenFor(other.user_token, other.space_id);
      expect(otherSpace.json.room).toBe(`marvain-${other.agent_id}-${other.space_id}`);
      expect(otherSpace.json.room).not.toBe(room);
    });

    it('lets a member user publish', async () => {
      const member = await user('member');
      const reply = await tokenFor(member.token);
      expect(reply.status).toBe(200);
      const claims = await decode(reply.json.token as string);
      expect(claims.sub).toBe(`user:${member.id}`);
      expect(claims.name).toBe('A member');
      expect(claims.video).toMatchObject({ room, roomJoin: true, canPublish: true, canSubscribe: true });
    });

    it('lets a device with a microphone publish, and a device without one only subscribe', async () => {
      const mic = await device('kitchen satellite', { microphone: true, display: true });
      const screen = await device('hall screen', { display: true, audio: true });

      const withMic = await tokenFor(mic.token);
      expect(withMic.status).toBe(200);
      const micClaims = await decode(withMic.json.token as string);
      expect(micClaims.sub).toBe(`device:${mic.id}`);
      expect(micClaims.name).toBe('kitchen satellite');
      expect(micClaims.video).toMatchObject({ room, roomJoin: true, canSubscribe: true, canPublish: true });

      const withoutMic = await tokenFor(screen.token);
      expect(withoutMic.status).toBe(200);
      const screenClaims = await decode(withoutMic.json.token as string);
      expect(screenClaims.video).toMatchObject({
        room,
        roomJoin: true,
        canSubscribe: true,
        canPublish: false,
        canPublishData: false,
      });
      expect(withoutMic.json.grants).toMatchObject({ can_publish: false, can_publish_data: false });
    });

    it('refuses an agent principal (it holds agents:read only), and gives an agent holding livekit:join a subscribe-only token', async () => {
      const key = await newAgentKey();
      const registered = await hub.call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
        alg: 'EdDSA',
        public_key: key.publicJwk,
      });
      expect(registered.status).toBe(201);
      const refused = await tokenFor(await signAgentAssertion(home.agent_id, key));
      expect(refused.status).toBe(403);
      expect(refused.json.error.code).toBe(ErrorCode.Forbidden);

      // The principal model grants agents more only through a delegation contract; this is what one would get.
      const view = await hub.app
        .get(LivekitService)
        .issueToken(
          { type: 'agent', id: home.agent_id, agents: [{ agent_id: home.agent_id, scopes: ['livekit:join'] }] },
          home.space_id,
        );
      const claims = await decode(view.token);
      expect(claims.sub).toBe(`agent:${home.agent_id}`);
      expect(claims.name).toBe('Forge');
      expect(claims.video).toMatchObject({ room, roomJoin: true, canSubscribe: true, canPublish: false });
    });

    it('refuses a device without livekit:join (403), and answers another agent’s space like a missing one (404)', async () => {
      const plain = await device('no rooms', { microphone: true }, ['events:write']);
      const refused = await tokenFor(plain.token);
      expect(refused.status).toBe(403);
      expect(refused.json.error.code).toBe(ErrorCode.Forbidden);

      const foreign = await tokenFor(home.user_token, other.space_id);
      const missing = await tokenFor(home.user_token, randomUUID());
      expect(foreign.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(foreign.json.error.code).toBe(missing.json.error.code);
      expect(foreign.text).not.toContain(other.agent_id);
    });

    it('audits each token issued: room, identity, grants and expiry, never the token', async () => {
      const reply = await tokenFor(home.user_token);
      const rows = await sql<{ body: string }>`
        SELECT body FROM audit_entries WHERE agent_id = ${home.agent_id}::uuid ORDER BY seq DESC LIMIT 1`.execute(
        hub.kysely,
      );
      const entry = JSON.parse(rows.rows[0]!.body) as Record<string, any>;
      expect(entry).toMatchObject({
        action: 'livekit.token_issued',
        actor: { type: 'user', id: home.user_id },
        subject: { type: 'space', id: home.space_id },
        details: {
          room,
          identity: `user:${home.user_id}`,
          expires_at: reply.json.expires_at,
          grants: { room, room_join: true, can_subscribe: true, can_publish: true, can_publish_data: true },
        },
      });
      expect(rows.rows[0]!.body).not.toContain(reply.json.token as string);
      expect(rows.rows[0]!.body).not.toContain((reply.json.token as string).split('.')[2]);
    });

    it(`refuses the ${LIVEKIT_TOKENS_PER_WINDOW + 1}st token a principal asks for within a minute (429, with when to retry)`, async () => {
      const member = await user('guest');
      for (let i = 0; i < LIVEKIT_TOKENS_PER_WINDOW; i += 1) {
        expect((await tokenFor(member.token)).status).toBe(200);
      }
      const refused = await tokenFor(member.token);
      expect(refused.status).toBe(429);
      expect(refused.json.error.code).toBe(ErrorCode.RateLimited);
      expect(refused.json.error.details.retry_after_seconds).toBeGreaterThan(0);
      expect(refused.json.error.details.retry_after_seconds).toBeLessThanOrEqual(60);
      // Others are not held back by it.
      expect((await tokenFor(home.user_token)).status).toBe(200);
    });

    it('says LiveKit is configured in health', async () => {
      const health = await hub.call('GET', '/v1/health', null);
      expect(health.json.livekit).toBe('configured');
    });
  });

  describe('webhooks', () => {
    it('puts a participant online in the space on participant_joined and offline on participant_left, once each, whatever the redeliveries', async () => {
      const mic = await device('den satellite', { microphone: true });
      const identity = `device:${mic.id}`;
      const before = (await presenceUpdates()).length;

      const joined = webhookBody('participant_joined', room, identity);
      const first = await deliver(joined);
      expect(first.status).toBe(200);
      expect(first.json).toEqual({ received: true, event: 'participant_joined', applied: true });
      expect(await presenceIn(home.space_id)).toContainEqual(
        expect.objectContaining({ subject_type: 'device', subject_id: mic.id, status: 'online' }),
      );
      // LiveKit redelivers: same state, no second transition.
      expect((await deliver(joined)).status).toBe(200);
      expect((await presenceUpdates()).slice(before)).toEqual([
        { space_id: home.space_id, subject_id: mic.id, status: 'online' },
      ]);

      const left = webhookBody('participant_left', room, identity);
      expect((await deliver(left)).json.applied).toBe(true);
      expect((await deliver(left)).status).toBe(200);
      expect((await deliver(webhookBody('participant_connection_aborted', room, identity))).status).toBe(200);
      expect(await presenceIn(home.space_id)).toContainEqual(
        expect.objectContaining({ subject_id: mic.id, status: 'offline' }),
      );
      expect((await presenceUpdates()).slice(before)).toEqual([
        { space_id: home.space_id, subject_id: mic.id, status: 'online' },
        { space_id: home.space_id, subject_id: mic.id, status: 'offline' },
      ]);

      // Back, then a connection that never completed: gone again.
      expect((await deliver(webhookBody('participant_joined', room, identity))).json.applied).toBe(true);
      expect((await deliver(webhookBody('participant_connection_aborted', room, identity))).json.applied).toBe(true);
      expect((await presenceUpdates()).slice(before).map((u) => u.status)).toEqual([
        'online',
        'offline',
        'online',
        'offline',
      ]);
    });

    it('keeps a participant online through maintenance sweeps while it is in the room, and takes it offline when it leaves', async () => {
      const member = await user('member');
      const identity = `user:${member.id}`;
      const statusOf = async () => (await presenceIn(home.space_id)).find((p) => p.subject_id === member.id)?.status;
      // As if the participant joined long ago and sent nothing since (a participant never heartbeats).
      const backdate = () =>
        sql`UPDATE presence SET last_seen = now() - interval '1 hour' WHERE subject_id = ${member.id}::uuid`.execute(
          hub.kysely,
        );

      expect((await deliver(webhookBody('participant_joined', room, identity))).json.applied).toBe(true);
      await backdate();
      await hub.app.get(MaintenanceService).run();
      expect(await statusOf()).toBe('online');

      expect((await deliver(webhookBody('participant_left', room, identity))).json.applied).toBe(true);
      expect(await statusOf()).toBe('offline');

      // Back in the room, then the room finishes (everyone gone, a participant_left lost): offline too.
      expect((await deliver(webhookBody('participant_joined', room, identity))).json.applied).toBe(true);
      await backdate();
      await hub.app.get(MaintenanceService).run();
      expect(await statusOf()).toBe('online');
      expect((await deliver(webhookBody('room_finished', room))).json).toEqual({
        received: true,
        event: 'room_finished',
        applied: true,
      });
      expect(await statusOf()).toBe('offline');
    });

    it('refuses a tampered body, a wrong secret, a missing or foreign signature (401) and changes nothing', async () => {
      const member = await user('member');
      const identity = `user:${member.id}`;
      const body = webhookBody('participant_joined', room, identity);
      const signed = await webhookHeaders(body);
      const before = await presenceUpdates();

      const tampered = body.replace('participant_joined', 'participant_left');
      const cases: Array<[string, string, Record<string, string>]> = [
        ['a tampered body', tampered, signed],
        ['one more byte', `${body} `, signed],
        [
          'a wrong secret',
          body,
          await webhookHeaders(body, { apiKey: TEST_LIVEKIT.apiKey, apiSecret: 'not-the-secret' }),
        ],
        ['a wrong key', body, await webhookHeaders(body, { apiKey: 'APIother', apiSecret: TEST_LIVEKIT.apiSecret })],
        ['no Authorization header', body, { 'content-type': 'application/webhook+json' }],
        [
          'a garbage Authorization header',
          body,
          { 'content-type': 'application/webhook+json', authorization: 'x.y.z' },
        ],
        ['no body', '', signed],
      ];
      for (const [what, sent, headers] of cases) {
        const reply = await deliver(sent, headers);
        expect({ what, status: reply.status, code: reply.json?.error?.code }).toEqual({
          what,
          status: 401,
          code: ErrorCode.WebhookSignatureInvalid,
        });
      }
      expect(await presenceUpdates()).toEqual(before);
      expect(await presenceIn(home.space_id)).not.toContainEqual(expect.objectContaining({ subject_id: member.id }));
    });

    it('acknowledges and ignores other events, rooms it did not name and participants that are not the agent’s', async () => {
      const before = await presenceUpdates();
      const stranger = `device:${other.device_id}`;
      const cases = [
        webhookBody('room_started', room),
        webhookBody('track_published', room, `user:${home.user_id}`),
        webhookBody('participant_joined', 'a-room-of-someone-else', `user:${home.user_id}`),
        webhookBody('participant_joined', room, 'browser-guest-42'),
        // Another agent's device in this room, and this agent's owner in a room naming a foreign space.
        webhookBody('participant_joined', room, stranger),
        webhookBody('participant_joined', `marvain-${home.agent_id}-${other.space_id}`, `user:${home.user_id}`),
      ];
      for (const body of cases) {
        const reply = await deliver(body);
        expect(reply.status).toBe(200);
        expect(reply.json.applied).toBe(false);
      }
      expect(await presenceUpdates()).toEqual(before);
    });

    it('refuses a webhook sent as application/json (400), and the webhook content type on other routes (415)', async () => {
      const body = webhookBody('participant_joined', room, `user:${home.user_id}`);
      const asJson = await deliver(body, { ...(await webhookHeaders(body)), 'content-type': 'application/json' });
      expect(asJson.status).toBe(400);
      const elsewhere = await hub.call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, '{"name":"x"}', {
        'content-type': 'application/webhook+json',
      });
      expect(elsewhere.status).toBe(415);
      expect(elsewhere.json.error.code).toBe(ErrorCode.UnsupportedMediaType);
    });
  });
});

describe(`a hub without LiveKit (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;

  beforeAll(async () => {
    hub = await openHubTestServer();
    home = await hub.bootstrap();
  });
  afterAll(() => hub.close());

  it('answers token requests and webhooks 503 livekit_not_configured, and says so in health', async () => {
    const token = await hub.call('POST', `/v1/spaces/${home.space_id}/livekit-token`, home.user_token);
    expect(token.status).toBe(503);
    expect(token.json.error.code).toBe(ErrorCode.LivekitNotConfigured);

    const body = webhookBody('participant_joined', `marvain-${home.agent_id}-${home.space_id}`, `user:${home.user_id}`);
    const webhook = await hub.call('POST', '/v1/livekit/webhook', null, body, await webhookHeaders(body));
    expect(webhook.status).toBe(503);
    expect(webhook.json.error.code).toBe(ErrorCode.LivekitNotConfigured);

    expect((await hub.call('GET', '/v1/health', null)).json.livekit).toBe('not_configured');
    expect((await hub.call('GET', `/v1/spaces/${home.space_id}/presence`, home.user_token)).json.presence).toEqual([]);
  });
});
