import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { MembershipRole } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import { USER_TOKEN_ISSUER, type BootstrapResult, type UserTokenIssuer } from '@marvain/identity';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

jest.setTimeout(60_000);

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe(`devices over HTTP (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  let other: BootstrapResult;

  const call = (...args: Parameters<HubTestServer['call']>) => hub.call(...args);

  /** A user holding `role` on the agent, with a token the hub issued. */
  async function userWithRole(agentId: string, role: MembershipRole): Promise<string> {
    const subject = `local:${randomUUID()}`;
    const user = await sql<{
      user_id: string;
    }>`INSERT INTO users (subject) VALUES (${subject}) RETURNING user_id`.execute(hub.kysely);
    await sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${agentId}::uuid, ${user.rows[0]!.user_id}::uuid, ${role})`.execute(
      hub.kysely,
    );
    return hub.app.get<UserTokenIssuer>(USER_TOKEN_ISSUER).issue({ subject, email: null, displayName: null });
  }

  const register = (agentId: string, token: string, body: Record<string, unknown> = { name: 'satellite' }) =>
    call('POST', `/v1/agents/${agentId}/devices`, token, body);

  beforeAll(async () => {
    hub = await openHubTestServer();
    home = await hub.bootstrap();
    other = await hub.bootstrap('Elsewhere', 'away');
  });
  afterAll(() => hub.close());

  it('registers a device and shows its token exactly once; only the hash is stored, nothing lists it', async () => {
    const created = await register(home.agent_id, home.user_token, {
      name: 'garage remote',
      scopes: ['events:write', 'presence:write'],
      capabilities: { audio: true },
      metadata: { is_remote: true, location: 'garage' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      device: {
        device_id: expect.any(String),
        agent_id: home.agent_id,
        name: 'garage remote',
        scopes: ['events:write', 'presence:write'],
        capabilities: { audio: true },
        metadata: { is_remote: true, location: 'garage' },
        is_remote: true,
        created_at: expect.any(String),
        revoked_at: null,
        last_hello_at: null,
        last_heartbeat_at: null,
      },
      token: expect.stringMatching(/^mvd_[A-Za-z0-9_-]{43}$/),
    });
    const { device, token } = created.json as { device: { device_id: string }; token: string };

    // The token works at once, as exactly this device with exactly its scopes.
    expect((await call('GET', '/v1/me', token)).json).toEqual({
      type: 'device',
      id: device.device_id,
      agents: [{ agent_id: home.agent_id, scopes: ['events:write', 'presence:write'] }],
    });

    // The database holds the SHA-256 of the token and nothing else of it.
    const row = await sql<{ token_hash: string; whole: string }>`
      SELECT token_hash, row_to_json(d)::text AS whole FROM devices d WHERE device_id = ${device.device_id}::uuid`.execute(
      hub.kysely,
    );
    expect(row.rows[0]!.token_hash).toBe(sha256(token));
    expect(row.rows[0]!.whole).not.toContain(token);
    const audit = await sql<{
      body: string;
    }>`SELECT body FROM audit_entries WHERE agent_id = ${home.agent_id}::uuid`.execute(hub.kysely);
    for (const entry of audit.rows) {
      expect(entry.body).not.toContain(token);
      expect(entry.body).not.toContain(sha256(token));
    }

    // Neither the list nor the device itself ever shows the token or its hash again.
    const listed = await call('GET', `/v1/agents/${home.agent_id}/devices`, home.user_token);
    expect(listed.status).toBe(200);
    expect(listed.json.devices.map((d: { device_id: string }) => d.device_id)).toEqual(
      expect.arrayContaining([device.device_id, home.device_id]),
    );
    const fetched = await call('GET', `/v1/devices/${device.device_id}`, home.user_token);
    expect(fetched).toMatchObject({ status: 200, json: { device_id: device.device_id, is_remote: true } });
    for (const response of [listed, fetched]) {
      expect(response.text).not.toContain(token);
      expect(response.text).not.toContain(sha256(token));
      expect(response.text).not.toContain('token');
    }
    expect(
      (await hub.auditActions(home.agent_id)).filter((a) => a === 'device.registered').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('names agents and devices by one rule: trimmed, and never with control characters', async () => {
    const device = await register(home.agent_id, home.user_token, { name: '  porch light  ' });
    expect(device.status).toBe(201);
    expect(device.json.device.name).toBe('porch light');
    const agent = await call('POST', '/v1/agents', home.user_token, { name: ' Scout ' });
    expect(agent.status).toBe(201);
    expect(agent.json.name).toBe('Scout');
    for (const name of ['porch\nlight', 'bell\u0007']) {
      expect((await register(home.agent_id, home.user_token, { name })).json.error.code).toBe('validation_failed');
      expect((await call('POST', '/v1/agents', home.user_token, { name })).json.error.code).toBe('validation_failed');
    }
  });

  it('grants the default satellite scopes when none are named', async () => {
    const created = await register(home.agent_id, home.user_token, { name: 'kitchen' });
    expect(created.status).toBe(201);
    expect(created.json.device).toMatchObject({
      scopes: ['events:write', 'presence:write', 'actions:read'],
      capabilities: {},
      metadata: {},
      is_remote: false,
    });
  });

  it('revokes a device: its very next request is refused, and revoking again is harmless', async () => {
    const { device, token } = (await register(home.agent_id, home.user_token)).json as {
      device: { device_id: string };
      token: string;
    };
    expect((await call('POST', '/v1/devices/heartbeat', token, {})).status).toBe(200);

    const revoked = await call('POST', `/v1/devices/${device.device_id}/revoke`, home.user_token);
    expect(revoked).toMatchObject({
      status: 200,
      json: { device_id: device.device_id, revoked_at: expect.any(String) },
    });

    const next = await call('POST', '/v1/devices/heartbeat', token, {});
    expect(next).toMatchObject({
      status: 401,
      json: { error: { code: 'unauthenticated', message: expect.stringMatching(/revoked/) } },
    });
    expect(
      (await call('POST', '/v1/events', token, { space_id: home.space_id, type: 'note', payload: {} })).status,
    ).toBe(401);

    const again = await call('POST', `/v1/devices/${device.device_id}/revoke`, home.user_token);
    expect(again).toMatchObject({ status: 200, json: { revoked_at: revoked.json.revoked_at } });
    const actions = await hub.auditActions(home.agent_id);
    expect(actions.filter((a) => a === 'device.revoked')).toHaveLength(1);

    // A revoked device cannot be brought back by rotating its token.
    const rotate = await call('POST', `/v1/devices/${device.device_id}/rotate-token`, home.user_token);
    expect(rotate).toMatchObject({ status: 409, json: { error: { code: 'conflict' } } });
    expect((await call('GET', `/v1/devices/${device.device_id}`, home.user_token)).json.revoked_at).toBe(
      revoked.json.revoked_at,
    );
  });

  it('rotates a token: the new one is shown once and works, the old one stops on the very next request', async () => {
    const { device, token: oldToken } = (await register(home.agent_id, home.user_token)).json as {
      device: { device_id: string };
      token: string;
    };
    expect((await call('GET', '/v1/me', oldToken)).status).toBe(200);

    const rotated = await call('POST', `/v1/devices/${device.device_id}/rotate-token`, home.user_token);
    expect(rotated).toMatchObject({
      status: 200,
      json: { device: { device_id: device.device_id, revoked_at: null }, token: expect.stringMatching(/^mvd_/) },
    });
    const newToken = rotated.json.token as string;
    expect(newToken).not.toBe(oldToken);

    expect(await call('GET', '/v1/me', oldToken)).toMatchObject({
      status: 401,
      json: { error: { code: 'unauthenticated' } },
    });
    expect((await call('POST', '/v1/devices/heartbeat', oldToken, {})).status).toBe(401);
    expect((await call('GET', '/v1/me', newToken)).json).toMatchObject({ type: 'device', id: device.device_id });

    const stored = await sql<{
      token_hash: string;
    }>`SELECT token_hash FROM devices WHERE device_id = ${device.device_id}::uuid`.execute(hub.kysely);
    expect(stored.rows[0]!.token_hash).toBe(sha256(newToken));
    expect((await call('GET', `/v1/agents/${home.agent_id}/devices`, home.user_token)).text).not.toContain(newToken);
    expect(await hub.auditActions(home.agent_id)).toContain('device.token_rotated');
  });

  it('refuses scope escalation: nobody grants, or obtains by rotation, scopes they do not hold', async () => {
    const admin = await userWithRole(home.agent_id, 'admin'); // every scope but agents:manage
    const escalate = await register(home.agent_id, admin, {
      name: 'sneaky',
      scopes: ['events:write', 'agents:manage'],
    });
    expect(escalate).toMatchObject({
      status: 403,
      json: { error: { code: 'forbidden', details: { scopes: ['agents:manage'] } } },
    });
    expect((await register(home.agent_id, admin, { name: 'sneaky', scopes: ['agents:*'] })).status).toBe(403);
    expect((await register(home.agent_id, admin, { name: 'fine', scopes: ['events:*', 'audit:read'] })).status).toBe(
      201,
    );

    // The owner gives a device agents:manage; an admin rotating it would walk away with that scope.
    const strong = (await register(home.agent_id, home.user_token, { name: 'strong', scopes: ['agents:manage'] })).json;
    expect(strong.device.scopes).toEqual(['agents:manage']);
    expect((await call('POST', `/v1/devices/${strong.device.device_id}/rotate-token`, admin)).status).toBe(403);
    expect((await call('GET', '/v1/me', strong.token)).status).toBe(200); // the refused rotation changed nothing
    expect((await call('POST', `/v1/devices/${strong.device.device_id}/revoke`, admin)).status).toBe(200); // revoking takes nothing

    // A device that may manage devices still cannot hand out more than its own scopes.
    const manager = (
      await register(home.agent_id, home.user_token, { name: 'manager', scopes: ['devices:manage', 'events:write'] })
    ).json.token as string;
    expect((await register(home.agent_id, manager, { name: 'child', scopes: ['events:write'] })).status).toBe(201);
    expect((await register(home.agent_id, manager, { name: 'child', scopes: ['memories:read'] })).status).toBe(403);
    expect((await register(home.agent_id, manager, { name: 'child' })).status).toBe(403); // defaults include presence:write

    // Roles without devices:manage, and devices without it, are refused on every device route.
    const member = await userWithRole(home.agent_id, 'member');
    for (const token of [member, home.device_token]) {
      expect((await register(home.agent_id, token)).status).toBe(403);
      expect((await call('GET', `/v1/agents/${home.agent_id}/devices`, token)).status).toBe(403);
      expect((await call('GET', `/v1/devices/${home.device_id}`, token)).status).toBe(403);
      expect((await call('POST', `/v1/devices/${home.device_id}/revoke`, token)).status).toBe(403);
      expect((await call('POST', `/v1/devices/${home.device_id}/rotate-token`, token)).status).toBe(403);
    }
    expect((await call('GET', '/v1/me', home.device_token)).status).toBe(200); // still alive
  });

  it("answers another agent's devices exactly like missing ones (404), whatever the route", async () => {
    const foreign = (await register(other.agent_id, other.user_token, { name: 'theirs' })).json as {
      device: { device_id: string };
      token: string;
    };
    const foreignRevoked = (await register(other.agent_id, other.user_token, { name: 'theirs, revoked' })).json as {
      device: { device_id: string };
    };
    await call('POST', `/v1/devices/${foreignRevoked.device.device_id}/revoke`, other.user_token);
    const missing = randomUUID();

    const routes = (id: string): Array<[string, string]> => [
      ['GET', `/v1/devices/${id}`],
      ['POST', `/v1/devices/${id}/revoke`],
      ['POST', `/v1/devices/${id}/rotate-token`],
    ];
    for (const id of [foreign.device.device_id, foreignRevoked.device.device_id, missing]) {
      for (const [method, url] of routes(id)) {
        const response = await call(method, url, home.user_token);
        expect({ url, status: response.status, json: response.json }).toEqual({
          url,
          status: 404,
          json: { error: { code: 'not_found', message: `device ${id} was not found` }, request_id: expect.any(String) },
        });
      }
    }
    for (const agentId of [other.agent_id, randomUUID()]) {
      const list = await call('GET', `/v1/agents/${agentId}/devices`, home.user_token);
      const create = await register(agentId, home.user_token);
      for (const response of [list, create]) {
        expect(response).toMatchObject({
          status: 404,
          json: { error: { code: 'not_found', message: `agent ${agentId} was not found` } },
        });
      }
    }
    // Nothing happened to the other agent's device.
    expect((await call('GET', '/v1/me', foreign.token)).status).toBe(200);
  });

  it('heartbeats stamp the device and upsert its presence in a space of its agent; they are not audited', async () => {
    const { device, token } = (await register(home.agent_id, home.user_token, { name: 'hall' })).json as {
      device: { device_id: string };
      token: string;
    };
    const auditBefore = (await hub.auditActions(home.agent_id)).length;

    const first = await call('POST', '/v1/devices/heartbeat', token, { space_id: home.space_id });
    expect(first).toEqual({
      status: 200,
      json: { device_id: device.device_id, last_heartbeat_at: expect.any(String) },
      text: expect.any(String),
    });
    const presence = async () =>
      (
        await sql<{ agent_id: string; status: string; last_seen: Date }>`
        SELECT agent_id, status, last_seen FROM presence
        WHERE space_id = ${home.space_id}::uuid AND subject_type = 'device' AND subject_id = ${device.device_id}::uuid`.execute(
          hub.kysely,
        )
      ).rows;
    expect(await presence()).toEqual([
      { agent_id: home.agent_id, status: 'online', last_seen: new Date(first.json.last_heartbeat_at) },
    ]);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = await call('POST', '/v1/devices/heartbeat', token, { space_id: home.space_id, status: 'away' });
    expect(second.status).toBe(200);
    expect(new Date(second.json.last_heartbeat_at).getTime()).toBeGreaterThan(
      new Date(first.json.last_heartbeat_at).getTime(),
    );
    expect(await presence()).toEqual([
      { agent_id: home.agent_id, status: 'away', last_seen: new Date(second.json.last_heartbeat_at) },
    ]);

    // Without a space (and even without a body) only the device's heartbeat moves.
    const bare = await call('POST', '/v1/devices/heartbeat', token);
    expect(bare.status).toBe(200);
    expect((await call('GET', `/v1/devices/${device.device_id}`, home.user_token)).json.last_heartbeat_at).toBe(
      bare.json.last_heartbeat_at,
    );
    expect(await presence()).toHaveLength(1);

    expect((await hub.auditActions(home.agent_id)).length).toBe(auditBefore);
  });

  it("refuses heartbeats for another agent's space (404 like a missing one), from users, and from devices without presence:write", async () => {
    const { token } = (await register(home.agent_id, home.user_token, { name: 'porch' })).json as { token: string };
    for (const spaceId of [other.space_id, randomUUID()]) {
      const response = await call('POST', '/v1/devices/heartbeat', token, { space_id: spaceId });
      expect(response).toMatchObject({
        status: 404,
        json: { error: { code: 'not_found', message: `space ${spaceId} was not found` } },
      });
    }
    const foreignPresence = await sql<{
      n: string;
    }>`SELECT count(*)::text AS n FROM presence WHERE space_id = ${other.space_id}::uuid`.execute(hub.kysely);
    expect(foreignPresence.rows[0]!.n).toBe('0');

    expect((await call('POST', '/v1/devices/heartbeat', home.user_token, { space_id: home.space_id })).status).toBe(
      403,
    );
    const mute = (await register(home.agent_id, home.user_token, { name: 'mute', scopes: ['events:write'] })).json
      .token as string;
    expect((await call('POST', '/v1/devices/heartbeat', mute, {})).status).toBe(403);
    expect((await call('POST', '/v1/devices/heartbeat', null, {})).status).toBe(401);
  });

  it('answers bad input on every route with 400 validation_failed, never 500', async () => {
    const { device } = (await register(home.agent_id, home.user_token, { name: 'target' })).json as {
      device: { device_id: string };
    };
    const deep = (levels: number): unknown => (levels === 0 ? 1 : { a: deep(levels - 1) });
    const create = `/v1/agents/${home.agent_id}/devices`;
    const cases: Array<[string, string, string, unknown?]> = [
      ['POST', create, 'missing name', {}],
      ['POST', create, 'name not a string', { name: 42 }],
      ['POST', create, 'blank name', { name: '   ' }],
      ['POST', create, 'empty name', { name: '' }],
      ['POST', create, 'oversized name', { name: 'x'.repeat(201) }],
      ['POST', create, 'unknown field', { name: 'x', token: 'mvd_mine' }],
      ['POST', create, 'scopes not an array', { name: 'x', scopes: 'events:write' }],
      ['POST', create, 'scope not a string', { name: 'x', scopes: [1] }],
      ['POST', create, 'unknown scope', { name: 'x', scopes: ['events:write', 'root:everything'] }],
      ['POST', create, 'wildcard of unknown resource', { name: 'x', scopes: ['root:*'] }],
      ['POST', create, 'bare wildcard', { name: 'x', scopes: ['*'] }],
      ['POST', create, 'too many scopes', { name: 'x', scopes: Array.from({ length: 100 }, () => 'events:write') }],
      ['POST', create, 'oversized scope string', { name: 'x', scopes: ['events:' + 'w'.repeat(10_000)] }],
      ['POST', create, 'capabilities not an object', { name: 'x', capabilities: 'audio' }],
      ['POST', create, 'capabilities an array', { name: 'x', capabilities: ['audio'] }],
      ['POST', create, 'metadata null', { name: 'x', metadata: null }],
      ['POST', create, 'metadata.is_remote not a boolean', { name: 'x', metadata: { is_remote: 'yes' } }],
      ['POST', create, 'oversized metadata', { name: 'x', metadata: { blob: 'x'.repeat(10_000) } }],
      ['POST', create, 'deeply nested capabilities', { name: 'x', capabilities: deep(40) }],
      [
        'POST',
        create,
        'very deeply nested metadata (≈240 KB)',
        `{"name":"x","metadata":${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}}`,
      ],
      [
        'POST',
        create,
        'very deeply nested array',
        `{"name":"x","capabilities":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
      ],
      ['POST', create, 'body is an array', [{ name: 'x' }]],
      ['POST', create, 'body is a string', '"x"'],
      ['POST', create, 'malformed JSON', '{"name": '],
      ['POST', '/v1/agents/not-a-uuid/devices', 'non-uuid agent id', { name: 'x' }],
      ['GET', '/v1/agents/not-a-uuid/devices', 'non-uuid agent id (list)'],
      ['GET', '/v1/devices/not-a-uuid', 'non-uuid device id'],
      ['GET', `/v1/devices/${device.device_id}x`, 'uuid with a tail'],
      ['POST', '/v1/devices/12345/revoke', 'non-uuid device id (revoke)'],
      ['POST', '/v1/devices/12345/rotate-token', 'non-uuid device id (rotate)'],
      ['POST', `/v1/devices/${device.device_id}/revoke`, 'revoke with an unknown field', { reason: 'x' }],
      ['POST', `/v1/devices/${device.device_id}/rotate-token`, 'rotate with an unknown field', { token: 'mvd_x' }],
    ];
    for (const [method, url, what, body] of cases) {
      const response = await call(method, url, home.user_token, body);
      expect({ what, status: response.status, code: response.json?.error?.code }).toEqual({
        what,
        status: 400,
        code: 'validation_failed',
      });
    }

    const heartbeats: Array<[string, unknown]> = [
      ['non-uuid space', { space_id: 'home' }],
      ['space not a string', { space_id: 7 }],
      ['unknown status', { status: 'offline' }],
      ['status not a string', { status: true }],
      ['unknown field', { device_id: home.device_id }],
      ['oversized string', { space_id: 'a'.repeat(100_000) }],
      ['body is an array', []],
      ['deeply nested unknown field', `{"extra":${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
    ];
    for (const [what, body] of heartbeats) {
      const response = await call('POST', '/v1/devices/heartbeat', home.device_token, body);
      expect({ what, status: response.status, code: response.json?.error?.code }).toEqual({
        what,
        status: 400,
        code: 'validation_failed',
      });
    }
    // None of that registered anything or touched the target.
    const names = (await call('GET', `/v1/agents/${home.agent_id}/devices`, home.user_token)).json.devices.map(
      (d: { name: string }) => d.name,
    );
    expect(names).not.toContain('x');
    expect((await call('GET', `/v1/devices/${device.device_id}`, home.user_token)).json.revoked_at).toBeNull();
  });

  it('documents every device route in OpenAPI', async () => {
    const doc = (await call('GET', '/openapi.json', null)).json as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/agents/{agent_id}/devices'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(doc.paths['/v1/devices/{device_id}']).toHaveProperty('get');
    expect(doc.paths['/v1/devices/{device_id}/revoke']).toHaveProperty('post');
    expect(doc.paths['/v1/devices/{device_id}/rotate-token']).toHaveProperty('post');
    expect(doc.paths['/v1/devices/heartbeat']?.['post']).toMatchObject({ requestBody: { required: false } });
  });

  it("keeps the agent's audit chain verifiable after all of the above", async () => {
    const verify = await call('GET', `/v1/audit/verify?agent_id=${home.agent_id}`, home.user_token);
    expect(verify).toMatchObject({ status: 200, json: { ok: true } });
    const actions = await hub.auditActions(home.agent_id);
    expect(actions).toEqual(expect.arrayContaining(['device.registered', 'device.revoked', 'device.token_rotated']));
    expect(actions.some((a) => a.includes('heartbeat'))).toBe(false);
    expect((await call('GET', `/v1/audit/verify?agent_id=${other.agent_id}`, other.user_token)).json.ok).toBe(true);
  });
});
