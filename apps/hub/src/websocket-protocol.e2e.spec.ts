import { sql } from 'kysely';
import { ErrorCode, WsCloseCode } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { LocalWebSocketServer, type WebSocketLimits } from '@marvain/realtime';
import { newAgentKey, openHubTestServer, signAgentAssertion, type HubTestServer } from './testing/hub-test-server';
import { encodeFrame, jsonFrame, RawWebSocket } from './testing/raw-websocket';

jest.setTimeout(60_000);

type Message = Record<string, any>;

/** A hub whose WebSocket server runs with `limits` (small ones, so each rule shows in a few frames). */
async function hubWithLimits(
  limits: Partial<WebSocketLimits>,
): Promise<{ hub: HubTestServer; websocket: LocalWebSocketServer }> {
  let websocket: LocalWebSocketServer | undefined;
  const hub = await openHubTestServer({
    beforeListen: (app) => {
      const server = app.get(LocalWebSocketServer);
      server.attach(app.getHttpServer(), limits);
      websocket = server;
    },
  });
  return { hub, websocket: websocket as LocalWebSocketServer };
}

async function helloed(base: string, token: string): Promise<RawWebSocket> {
  const client = await RawWebSocket.open(base);
  client.send(jsonFrame({ type: 'hello', id: 'hello', token }));
  expect(await client.message((m: Message) => m['id'] === 'hello')).toMatchObject({ type: 'hello_ok' });
  return client;
}

describe(`the WebSocket protocol's limits (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let websocket: LocalWebSocketServer;
  let home: BootstrapResult;

  beforeAll(async () => {
    ({ hub, websocket } = await hubWithLimits({
      burstFrames: 20,
      framesPerSecond: 5,
      maxRefusedFrames: 3,
      helloTimeoutMs: 5000,
      revalidateEveryMs: 3_600_000,
    }));
    home = await hub.bootstrap();
  });
  afterAll(async () => {
    await websocket.close();
    await hub.close();
  });

  it('serves only hello and ping before hello; anything else answers unauthenticated', async () => {
    const client = await RawWebSocket.open(hub.base);
    client.send(jsonFrame({ type: 'list_actions', id: 'a' }));
    client.send(jsonFrame({ type: 'ping', id: 'b' }));
    client.send(jsonFrame({ type: 'hello', id: 'c', token: home.device_token }));
    client.send(jsonFrame({ type: 'list_actions', id: 'd' }));
    expect(await client.message((m: Message) => m['id'] === 'a')).toMatchObject({
      type: 'error',
      error: { code: ErrorCode.Unauthenticated },
    });
    expect(await client.message((m: Message) => m['id'] === 'b')).toMatchObject({ type: 'pong' });
    expect(await client.message((m: Message) => m['id'] === 'c')).toMatchObject({ type: 'hello_ok' });
    // After hello the same frame is a protocol question, not an authentication one.
    expect(await client.message((m: Message) => m['id'] === 'd')).toMatchObject({
      type: 'error',
      error: { code: ErrorCode.ValidationFailed },
    });
    client.destroy();
  });

  it('never echoes more than 64 characters of a client id, nor an id that is not a string', async () => {
    const client = await RawWebSocket.open(hub.base);
    const long = 'x'.repeat(10_000);
    client.send(jsonFrame({ type: 'ping', id: long }));
    client.send(jsonFrame({ type: 'ping', id: { nested: long } }));
    client.send(jsonFrame({ type: long, id: 'type' }));
    client.send(jsonFrame({ type: 'ping', id: 'last' }));
    await client.message((m: Message) => m['id'] === 'last');
    const [tooLong, notString, longType] = client.messages() as Message[];
    expect(tooLong).toEqual({
      type: 'error',
      id: 'x'.repeat(64),
      error: { code: ErrorCode.ValidationFailed, message: expect.any(String) },
    });
    expect(notString).toEqual({
      type: 'error',
      error: { code: ErrorCode.ValidationFailed, message: expect.any(String) },
    });
    expect(JSON.stringify(longType).length).toBeLessThan(300);
    expect(longType).toMatchObject({ type: 'error', id: 'type' });
    client.destroy();
  });

  it('refuses binary frames, and closes the socket with 1008 when they keep coming', async () => {
    const client = await RawWebSocket.open(hub.base);
    client.send(encodeFrame({ opcode: 0x2, payload: '{"type":"ping","id":"bin"}' }));
    expect(await client.message((m: Message) => m['type'] === 'error')).toMatchObject({
      error: { code: ErrorCode.UnsupportedMediaType },
    });
    for (let i = 0; i < 5; i++) {
      client.send(encodeFrame({ opcode: 0x2, payload: Buffer.from([1, 2, 3]) }));
    }
    expect((await client.closed()).code).toBe(WsCloseCode.PolicyViolation);
    expect(client.messages().some((m) => (m as Message)['type'] === 'pong')).toBe(false);
  });

  it('drops frames past the rate limit (one rate_limited reply), then closes a client that keeps flooding with 1008', async () => {
    const client = await RawWebSocket.open(hub.base);
    client.send(Buffer.concat(Array.from({ length: 60 }, (_, i) => jsonFrame({ type: 'ping', id: String(i) }))));
    expect((await client.closed()).code).toBe(WsCloseCode.PolicyViolation);
    const replies = client.messages() as Message[];
    const pongs = replies.filter((m) => m['type'] === 'pong').length;
    expect(pongs).toBeGreaterThanOrEqual(20); // the burst
    expect(pongs).toBeLessThan(60);
    expect(replies.filter((m) => m['type'] === 'error')).toEqual([
      { type: 'error', error: { code: ErrorCode.RateLimited, message: expect.any(String) } },
    ]);
  });

  it('counts control pings against the same limit (they are not answered without bound)', async () => {
    const client = await RawWebSocket.open(hub.base);
    client.send(Buffer.concat(Array.from({ length: 60 }, () => encodeFrame({ opcode: 0x9, payload: 'p' }))));
    expect((await client.closed()).code).toBe(WsCloseCode.PolicyViolation);
    expect(client.frames.filter((f) => f.opcode === 0xa).length).toBeLessThan(60);
  });

  it('closes a socket that has not said hello within the deadline with 4401; one that did stays open', async () => {
    const silent = await RawWebSocket.open(hub.base);
    const greeted = await helloed(hub.base, home.device_token);
    expect(await silent.closed()).toEqual({
      code: WsCloseCode.Unauthenticated,
      reason: expect.stringContaining('hello'),
    });
    greeted.send(jsonFrame({ type: 'ping', id: 'still' }));
    expect(await greeted.message((m: Message) => m['id'] === 'still')).toMatchObject({ type: 'pong' });
    greeted.destroy();
  });

  describe('ends the sockets of principals whose access ends, at once', () => {
    it('a revoked device (4401), and a device whose token was rotated (4401)', async () => {
      const first = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, { name: 'one' });
      const second = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, { name: 'two' });
      const revokedSocket = await helloed(hub.base, first.json.token);
      const rotatedSocket = await helloed(hub.base, second.json.token);
      const bystander = await helloed(hub.base, home.device_token);

      expect(
        (await hub.call('POST', `/v1/devices/${first.json.device.device_id}/revoke`, home.user_token)).status,
      ).toBe(200);
      expect((await revokedSocket.closed()).code).toBe(WsCloseCode.Unauthenticated);
      expect(
        (await hub.call('POST', `/v1/devices/${second.json.device.device_id}/rotate-token`, home.user_token)).status,
      ).toBe(200);
      expect((await rotatedSocket.closed()).code).toBe(WsCloseCode.Unauthenticated);

      bystander.send(jsonFrame({ type: 'ping', id: 'here' }));
      expect(await bystander.message((m: Message) => m['id'] === 'here')).toMatchObject({ type: 'pong' });
      bystander.destroy();
    });

    it('a member removed from the agent, or whose role changed (4403: hello again)', async () => {
      const owner = await hub.bootstrap('Keeper', 'home');
      const removed = await hub.bootstrap('Removed', 'home');
      const demoted = await hub.bootstrap('Demoted', 'home');
      for (const user of [removed, demoted]) {
        expect(
          (
            await hub.call('POST', `/v1/agents/${owner.agent_id}/members`, owner.user_token, {
              user_id: user.user_id,
              role: 'admin',
            })
          ).status,
        ).toBe(201);
      }
      const removedSocket = await helloed(hub.base, removed.user_token);
      const demotedSocket = await helloed(hub.base, demoted.user_token);

      expect(
        (await hub.call('POST', `/v1/agents/${owner.agent_id}/members/${removed.user_id}/revoke`, owner.user_token))
          .status,
      ).toBe(200);
      expect((await removedSocket.closed()).code).toBe(WsCloseCode.AccessChanged);
      expect(
        (
          await hub.call('PATCH', `/v1/agents/${owner.agent_id}/members/${demoted.user_id}`, owner.user_token, {
            role: 'guest',
          })
        ).status,
      ).toBe(200);
      expect((await demotedSocket.closed()).code).toBe(WsCloseCode.AccessChanged);

      // The token itself still works: hello again gives the narrower access.
      const again = await helloed(hub.base, removed.user_token);
      again.destroy();
    });

    it("a disabled agent: its devices and its own assertions (4401), its members' sockets (4403)", async () => {
      const owner = await hub.bootstrap('Doomed', 'home');
      const key = await newAgentKey();
      expect(
        (
          await hub.call('POST', `/v1/agents/${owner.agent_id}/credentials`, owner.user_token, {
            alg: 'EdDSA',
            public_key: key.publicJwk,
          })
        ).status,
      ).toBe(201);
      const device = await helloed(hub.base, owner.device_token);
      const agent = await helloed(hub.base, await signAgentAssertion(owner.agent_id, key));
      const member = await helloed(hub.base, owner.user_token);

      expect((await hub.call('POST', `/v1/agents/${owner.agent_id}/disable`, owner.user_token)).status).toBe(200);
      expect((await device.closed()).code).toBe(WsCloseCode.Unauthenticated);
      expect((await agent.closed()).code).toBe(WsCloseCode.Unauthenticated);
      expect((await member.closed()).code).toBe(WsCloseCode.AccessChanged);
    });

    it('a user whose tokens were revoked (4401); another user stays connected', async () => {
      const revoker = await hub.bootstrap('Revoker', 'home');
      const other = await hub.bootstrap('Other', 'home');
      const revokedSocket = await helloed(hub.base, revoker.user_token);
      const bystander = await helloed(hub.base, other.user_token);

      expect((await hub.call('POST', '/v1/me/tokens/revoke', revoker.user_token)).status).toBe(200);
      expect((await revokedSocket.closed()).code).toBe(WsCloseCode.Unauthenticated);

      bystander.send(jsonFrame({ type: 'ping', id: 'still' }));
      expect(await bystander.message((m: Message) => m['id'] === 'still')).toMatchObject({ type: 'pong' });
      bystander.destroy();
    });

    it('an agent whose key was revoked (4401)', async () => {
      const owner = await hub.bootstrap('Keyed', 'home');
      const key = await newAgentKey();
      const registered = await hub.call('POST', `/v1/agents/${owner.agent_id}/credentials`, owner.user_token, {
        alg: 'EdDSA',
        public_key: key.publicJwk,
      });
      const agent = await helloed(hub.base, await signAgentAssertion(owner.agent_id, key));
      const revoked = await hub.call(
        'POST',
        `/v1/agents/${owner.agent_id}/credentials/${registered.json.credential_id}/revoke`,
        owner.user_token,
      );
      expect(revoked.status).toBe(200);
      expect((await agent.closed()).code).toBe(WsCloseCode.Unauthenticated);
    });
  });
});

describe(`the WebSocket backstops (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let websocket: LocalWebSocketServer;
  let home: BootstrapResult;

  beforeAll(async () => {
    // Rates out of the way: this hub shows the send-buffer cap and the periodic re-check.
    ({ hub, websocket } = await hubWithLimits({
      burstFrames: 1e9,
      framesPerSecond: 1e9,
      maxSendBufferBytes: 64 * 1024,
      revalidateEveryMs: 200,
    }));
    home = await hub.bootstrap();
  });
  afterAll(async () => {
    await websocket.close();
    await hub.close();
  });

  it('re-checks live connections: a device revoked behind the service (another process) is closed with 4401', async () => {
    const created = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: 'elsewhere',
    });
    const socket = await helloed(hub.base, created.json.token);
    await sql`UPDATE devices SET revoked_at = now() WHERE device_id = ${created.json.device.device_id}::uuid`.execute(
      hub.kysely,
    );
    expect((await socket.closed()).code).toBe(WsCloseCode.Unauthenticated);
  });

  it('re-checks live connections: a membership ended behind the service is closed with 4403', async () => {
    const owner = await hub.bootstrap('Keeper', 'home');
    const guest = await hub.bootstrap('Guest', 'home');
    await hub.call('POST', `/v1/agents/${owner.agent_id}/members`, owner.user_token, {
      user_id: guest.user_id,
      role: 'member',
    });
    const socket = await helloed(hub.base, guest.user_token);
    await sql`UPDATE agent_memberships SET revoked_at = now() WHERE agent_id = ${owner.agent_id}::uuid AND user_id = ${guest.user_id}::uuid`.execute(
      hub.kysely,
    );
    expect((await socket.closed()).code).toBe(WsCloseCode.AccessChanged);
  });

  it("re-checks an agent's connection without replaying its single-use assertion; a key revoked behind the service closes it (4401)", async () => {
    const owner = await hub.bootstrap('Checked', 'home');
    const key = await newAgentKey();
    await hub.call('POST', `/v1/agents/${owner.agent_id}/credentials`, owner.user_token, {
      alg: 'EdDSA',
      public_key: key.publicJwk,
    });
    const agent = await helloed(hub.base, await signAgentAssertion(owner.agent_id, key));
    // Opened after the agent's, so once a re-check has closed this one it has seen the agent's too.
    const created = await hub.call('POST', `/v1/agents/${owner.agent_id}/devices`, owner.user_token, {
      name: 'marker',
    });
    const marker = await helloed(hub.base, created.json.token);
    await sql`UPDATE devices SET revoked_at = now() WHERE device_id = ${created.json.device.device_id}::uuid`.execute(
      hub.kysely,
    );
    expect((await marker.closed()).code).toBe(WsCloseCode.Unauthenticated);

    agent.send(jsonFrame({ type: 'ping', id: 'alive' }));
    expect(await agent.message((m: Message) => m['id'] === 'alive')).toMatchObject({ type: 'pong' });
    await sql`UPDATE agent_credentials SET revoked_at = now() WHERE agent_id = ${owner.agent_id}::uuid`.execute(
      hub.kysely,
    );
    expect((await agent.closed()).code).toBe(WsCloseCode.Unauthenticated);
  });

  it('closes a client that does not read its replies once 64 KiB wait for it (1013), and serves others meanwhile', async () => {
    const reader = await helloed(hub.base, home.device_token);
    const hog = await RawWebSocket.open(hub.base);
    // Authenticated first, so only its unread replies can close it (not the hello deadline on a slow run).
    hog.send(jsonFrame({ type: 'hello', id: 'hello', token: home.device_token }));
    expect(await hog.message((m: Message) => m['id'] === 'hello')).toMatchObject({ type: 'hello_ok' });
    hog.stopReading();
    // Far more replies than the kernel's socket buffers and the cap hold together.
    const batch = Buffer.concat(
      Array.from({ length: 1000 }, (_, i) => jsonFrame({ type: 'ping', id: `p${i}`.padEnd(60, '.') })),
    );
    for (let i = 0; i < 300; i++) {
      if (!hog.socket.write(batch)) {
        await new Promise((resolve) => hog.socket.once('drain', resolve));
      }
    }
    reader.send(jsonFrame({ type: 'ping', id: 'reader' }));
    expect(await reader.message((m: Message) => m['id'] === 'reader')).toMatchObject({ type: 'pong' });
    hog.socket.resume();
    expect((await hog.closed()).code).toBe(WsCloseCode.TryAgainLater);
    expect(hog.messages().length).toBeLessThan(300_000);
    reader.destroy();
  });
});

describe(`the WebSocket connection cap (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let websocket: LocalWebSocketServer;

  beforeAll(async () => {
    ({ hub, websocket } = await hubWithLimits({ maxConnections: 2 }));
  });
  afterAll(async () => {
    await websocket.close();
    await hub.close();
  });

  it('answers an upgrade past the cap with 503 unavailable, and accepts again once a connection ends', async () => {
    const first = await RawWebSocket.open(hub.base);
    const second = await RawWebSocket.open(hub.base);
    await expect(RawWebSocket.open(hub.base)).rejects.toThrow(/upgrade refused: HTTP\/1\.1 503 /);
    expect((await hub.call('GET', '/v1/health', null)).status).toBe(200);

    first.destroy();
    for (let waited = 0; websocket.size >= 2 && waited < 5000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const third = await RawWebSocket.open(hub.base);
    second.destroy();
    third.destroy();
  });
});
