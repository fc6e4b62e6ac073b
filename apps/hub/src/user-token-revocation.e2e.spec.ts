import { sql } from 'kysely';
import { testDatabaseKind } from '@marvain/db/testing';
import { LocalUsersService, type BootstrapResult } from '@marvain/identity';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

const CONTROL_SECRET = 'operator-control-secret-for-tests';

describe(`user token revocation (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;

  beforeAll(async () => {
    hub = await openHubTestServer({ localControlSecret: CONTROL_SECRET });
    home = await hub.bootstrap();
  });
  afterAll(() => hub.close());

  const systemActions = async (): Promise<
    Array<{ action: string; subject?: { id: string }; actor: { type: string } }>
  > => {
    const rows = await sql<{
      body: string;
    }>`SELECT body FROM audit_entries WHERE chain_id = 'system' ORDER BY seq`.execute(hub.kysely);
    return rows.rows.map(
      (r) => JSON.parse(r.body) as { action: string; subject?: { id: string }; actor: { type: string } },
    );
  };

  it('lets a user revoke their own tokens: every older token is refused on its next request, new ones work, and it is audited', async () => {
    const users = hub.app.get(LocalUsersService);
    const second = (await users.issue({ userId: home.user_id })).user_token;
    expect((await hub.call('GET', '/v1/me', second)).status).toBe(200);

    const revoked = await hub.call('POST', '/v1/me/tokens/revoke', home.user_token);
    expect(revoked).toMatchObject({ status: 200, json: { user_id: home.user_id, token_version: 1 } });

    for (const old of [home.user_token, second]) {
      expect(await hub.call('GET', '/v1/me', old)).toMatchObject({
        status: 401,
        json: { error: { code: 'unauthenticated', message: expect.stringMatching(/revoked/) } },
      });
    }
    const fresh = (await users.issue({ userId: home.user_id })).user_token;
    expect(await hub.call('GET', '/v1/me', fresh)).toMatchObject({
      status: 200,
      json: { type: 'user', id: home.user_id },
    });
    // The device is not the user's token: it goes on working.
    expect((await hub.call('GET', '/v1/me', home.device_token)).status).toBe(200);

    expect(await systemActions()).toContainEqual(
      expect.objectContaining({
        action: 'user.tokens_revoked',
        subject: { type: 'user', id: home.user_id },
        actor: { type: 'user', id: home.user_id },
      }),
    );
  });

  it('is for users only: a device may not call it', async () => {
    const other = await hub.bootstrap('Other', 'x');
    expect(await hub.call('POST', '/v1/me/tokens/revoke', other.device_token)).toMatchObject({
      status: 403,
      json: { error: { code: 'forbidden' } },
    });
    expect((await hub.call('GET', '/v1/me', other.user_token)).status).toBe(200);
  });

  it('lets the operator revoke a user’s tokens through the local control endpoint, by id or email', async () => {
    const users = hub.app.get(LocalUsersService);
    const created = await users.create('revoke-me@example.test', null);
    const control = { 'x-marvain-control': CONTROL_SECRET };

    expect(
      (await hub.call('POST', '/v1/local/users/revoke-tokens', null, { email: 'revoke-me@example.test' })).status,
    ).toBe(401);
    const byEmail = await hub.call(
      'POST',
      '/v1/local/users/revoke-tokens',
      null,
      { email: 'revoke-me@example.test' },
      control,
    );
    expect(byEmail).toMatchObject({ status: 200, json: { user_id: created.user_id, token_version: 1 } });
    expect((await hub.call('GET', '/v1/me', created.user_token)).status).toBe(401);

    const again = (await users.issue({ userId: created.user_id })).user_token;
    const byId = await hub.call('POST', '/v1/local/users/revoke-tokens', null, { user_id: created.user_id }, control);
    expect(byId).toMatchObject({ status: 200, json: { token_version: 2 } });
    expect((await hub.call('GET', '/v1/me', again)).status).toBe(401);
    expect(await systemActions()).toContainEqual(
      expect.objectContaining({
        action: 'user.tokens_revoked',
        subject: { type: 'user', id: created.user_id },
        actor: { type: 'system', id: 'operator' },
      }),
    );

    expect(
      (await hub.call('POST', '/v1/local/users/revoke-tokens', null, { email: 'nobody@example.test' }, control)).status,
    ).toBe(404);
  });
});
