import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { testDatabaseKind } from '@marvain/db/testing';
import { sql } from 'kysely';
import { AssertionJanitor, type BootstrapResult } from '@marvain/identity';
import { newAgentKey, openHubTestServer, signAgentAssertion, type HubTestServer } from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

describe(`agents as principals (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;

  const call = (...args: Parameters<HubTestServer['call']>) => hub.call(...args);

  beforeAll(async () => {
    hub = await openHubTestServer();
    home = await hub.bootstrap();
  });
  afterAll(() => hub.close());

  it('tells each kind of caller who it is', async () => {
    expect((await call('GET', '/v1/me', home.user_token)).json).toMatchObject({
      type: 'user',
      id: home.user_id,
      agents: [{ agent_id: home.agent_id }],
    });
    expect((await call('GET', '/v1/me', home.device_token)).json).toMatchObject({ type: 'device', id: home.device_id });
    expect((await call('GET', '/v1/me', null)).status).toBe(401);
  });

  it('accepts a fresh signed assertion once, as an agent that may only read its own record', async () => {
    const key = await newAgentKey('EdDSA');
    const registered = await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'EdDSA',
      public_key: key.publicJwk,
    });
    expect(registered.status).toBe(201);
    expect(registered.json).toMatchObject({
      agent_id: home.agent_id,
      alg: 'EdDSA',
      thumbprint: expect.any(String),
      revoked_at: null,
    });

    const token = await signAgentAssertion(home.agent_id, key);
    const me = await call('GET', '/v1/me', token);
    expect(me).toMatchObject({
      status: 200,
      json: { type: 'agent', id: home.agent_id, agents: [{ agent_id: home.agent_id, scopes: ['agents:read'] }] },
    });

    const replay = await call('GET', '/v1/me', token);
    expect(replay).toMatchObject({
      status: 401,
      json: { error: { code: 'unauthenticated', message: expect.stringMatching(/already used/) } },
    });

    // No delegation contract yet: nothing beyond its own record.
    const ingest = await call('POST', '/v1/events', await signAgentAssertion(home.agent_id, key), {
      space_id: home.space_id,
      type: 'note',
      payload: {},
    });
    expect(ingest.status).toBe(403);
    expect(
      (await call('GET', `/v1/memories?agent_id=${home.agent_id}`, await signAgentAssertion(home.agent_id, key)))
        .status,
    ).toBe(403);
    expect(
      (await call('GET', `/v1/agents/${home.agent_id}`, await signAgentAssertion(home.agent_id, key))).json,
    ).toMatchObject({ agent_id: home.agent_id, role: null });
    expect(
      (await call('GET', `/v1/agents/${home.agent_id}/credentials`, await signAgentAssertion(home.agent_id, key)))
        .status,
    ).toBe(403);
    expect(
      (await call('GET', `/v1/agents/${home.agent_id}/members`, await signAgentAssertion(home.agent_id, key))).status,
    ).toBe(403);
  });

  it('refuses assertions that live too long, have expired, name another audience, or are signed by another key', async () => {
    const key = await newAgentKey('EdDSA');
    await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'EdDSA',
      public_key: key.publicJwk,
    });
    const stranger = await newAgentKey('EdDSA');
    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['lifetime over 5 minutes', signAgentAssertion(home.agent_id, key, { lifetime: 301 }), /at most 300 seconds/],
      ['expired', signAgentAssertion(home.agent_id, key, { issuedAgo: 200, lifetime: 100 }), /expired/],
      ['wrong audience', signAgentAssertion(home.agent_id, key, { audience: 'https://elsewhere.example' }), /audience/],
      ['short jti', signAgentAssertion(home.agent_id, key, { jti: 'abc' }), /jti/],
      ['another key', signAgentAssertion(home.agent_id, stranger), /signature/],
      ['unknown agent', signAgentAssertion(randomUUID(), key), /no active key/],
    ];
    for (const [what, token, message] of cases) {
      const response = await call('GET', '/v1/me', await token);
      expect({ what, status: response.status, message: response.json.error.message as string }).toEqual({
        what,
        status: 401,
        message: expect.stringMatching(message),
      });
    }
  });

  it('records no assertion id for an assertion that does not verify', async () => {
    const key = await newAgentKey('EdDSA');
    await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'EdDSA',
      public_key: key.publicJwk,
    });
    const stranger = await newAgentKey('EdDSA');
    const jti = `forged-${randomUUID()}`;
    const forged = await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, stranger, { jti }));
    expect(forged).toMatchObject({
      status: 401,
      json: { error: { code: 'unauthenticated', message: expect.stringMatching(/signature/) } },
    });
    const rows = await sql<{ jti: string }>`SELECT jti FROM agent_assertion_jtis WHERE jti = ${jti}`.execute(
      hub.kysely,
    );
    expect(rows.rows).toEqual([]);
    // The same jti, properly signed, is then accepted once: the forgery did not burn it.
    expect((await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, key, { jti }))).status).toBe(200);
    expect((await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, key, { jti }))).status).toBe(401);
  });

  it.each([
    ['a NUL byte', 'jti-with-\u0000-nul'],
    ['a lone surrogate', 'jti-with-\ud800-lone'],
    ['a control character', 'jti-with-\u001b-escape'],
    ['an absurd length', 'j'.repeat(5_000)],
  ])('answers 401, not 500, to a jti with %s, signed or not', async (_what, jti) => {
    const key = await newAgentKey('EdDSA');
    await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'EdDSA',
      public_key: key.publicJwk,
    });
    for (const signer of [key, await newAgentKey('EdDSA')]) {
      const response = await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, signer, { jti }));
      expect({ status: response.status, code: response.json?.error?.code }).toEqual({
        status: 401,
        code: 'unauthenticated',
      });
    }
  });

  it('replaces and revokes keys with immediate effect, each change audited', async () => {
    const oldKey = await newAgentKey('EdDSA');
    await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'EdDSA',
      public_key: oldKey.publicJwk,
    });
    const newKeyP256 = await newAgentKey('ES256');
    const replaced = await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'ES256',
      public_key: newKeyP256.publicJwk,
    });
    expect(replaced.status).toBe(201);
    expect((await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, oldKey))).status).toBe(401);
    expect((await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, newKeyP256))).status).toBe(200);

    const listed = await call('GET', `/v1/agents/${home.agent_id}/credentials`, home.user_token);
    expect(listed.json.credentials.filter((c: any) => c.revoked_at === null)).toHaveLength(1);

    const revoked = await call(
      'POST',
      `/v1/agents/${home.agent_id}/credentials/${replaced.json.credential_id}/revoke`,
      home.user_token,
    );
    expect(revoked).toMatchObject({ status: 200, json: { revoked_at: expect.any(String) } });
    expect((await call('GET', '/v1/me', await signAgentAssertion(home.agent_id, newKeyP256))).status).toBe(401);

    const verify = await call('GET', `/v1/audit/verify?agent_id=${home.agent_id}`, home.user_token);
    expect(verify.json.ok).toBe(true);
  });

  it('refuses private keys, mismatched key types, devices and outsiders', async () => {
    const key = await newAgentKey('EdDSA');
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const withPrivate = await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'EdDSA',
      public_key: await exportJWK(privateKey),
    });
    expect(withPrivate).toMatchObject({
      status: 400,
      json: { error: { code: 'validation_failed', message: expect.stringMatching(/private part/) } },
    });
    const mismatched = await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'ES256',
      public_key: key.publicJwk,
    });
    expect(mismatched.status).toBe(400);
    const badAlg = await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.user_token, {
      alg: 'HS256',
      public_key: key.publicJwk,
    });
    expect(badAlg.status).toBe(400);
    expect(
      (
        await call('POST', `/v1/agents/${home.agent_id}/credentials`, home.device_token, {
          alg: 'EdDSA',
          public_key: key.publicJwk,
        })
      ).status,
    ).toBe(403);

    const other = await hub.bootstrap('Other', 'x');
    const outsider = await call('POST', `/v1/agents/${home.agent_id}/credentials`, other.user_token, {
      alg: 'EdDSA',
      public_key: key.publicJwk,
    });
    expect(outsider.status).toBe(404);
  });

  it('forgets used assertion ids only once they have expired', async () => {
    const janitor = hub.app.get(AssertionJanitor);
    const kysely = hub.kysely;
    await sql`INSERT INTO agent_assertion_jtis (agent_id, jti, expires_at) VALUES
      (${home.agent_id}::uuid, 'expired-jti-1', now() - interval '1 minute'),
      (${home.agent_id}::uuid, 'live-jti-0001', now() + interval '1 minute')`.execute(kysely);
    expect(await janitor.purge()).toBeGreaterThanOrEqual(1);
    const left = await sql<{
      jti: string;
    }>`SELECT jti FROM agent_assertion_jtis WHERE jti IN ('expired-jti-1', 'live-jti-0001')`.execute(kysely);
    expect(left.rows.map((r) => r.jti)).toEqual(['live-jti-0001']);
  });
});
