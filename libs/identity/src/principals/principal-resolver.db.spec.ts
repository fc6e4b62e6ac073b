import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { importJWK, SignJWT, type JWK } from 'jose';
import { sql } from 'kysely';
import { DEFAULT_DEVICE_SCOPES, DomainError, ErrorCode, ROLE_SCOPES } from '@marvain/contracts';
import { DbModule } from '@marvain/db';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import { CLOCK, PlatformModule, type Clock, type HubConfig } from '@marvain/platform';
import { testHubConfig } from '@marvain/platform/testing';
import { BootstrapService, type BootstrapResult } from '../bootstrap/bootstrap.service';
import { newDeviceToken } from '../devices/device-tokens';
import { IdentityModule } from '../identity.module';
import { PrincipalResolver } from './principal-resolver.service';
import {
  LOCAL_CLIENT_ID,
  LOCAL_ISSUER,
  LocalUserTokens,
  USER_TOKEN_ISSUER,
  type UserTokenIssuer,
} from '../users/user-tokens';
import { TestStreamPublisherModule } from '@marvain/streams/testing';

jest.setTimeout(60_000);

/** A clock the test can move; everything in the module reads it. */
class MovableClock implements Clock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

async function unauthenticated(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the credential to be refused, but it resolved');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(ErrorCode.Unauthenticated);
  return error as DomainError;
}

describe(`PrincipalResolver (${testDatabaseKind()})`, () => {
  let handle: TestDatabase;
  let moduleRef: TestingModule;
  let resolver: PrincipalResolver;
  let bootstrap: BootstrapService;
  let issuer: UserTokenIssuer;
  let config: HubConfig;
  const clock = new MovableClock();

  beforeAll(async () => {
    handle = await createTestDatabase();
    config = testHubConfig();
    moduleRef = await Test.createTestingModule({
      imports: [
        DbModule.forRoot({ target: config.database, migrate: false, handle }),
        PlatformModule.forRoot(config),
        TestStreamPublisherModule,
        IdentityModule,
      ],
    })
      .overrideProvider(CLOCK)
      .useValue(clock)
      .compile();
    await moduleRef.init();
    resolver = moduleRef.get(PrincipalResolver);
    bootstrap = moduleRef.get(BootstrapService);
    issuer = moduleRef.get<UserTokenIssuer>(USER_TOKEN_ISSUER);
  });

  afterEach(() => {
    clock.offsetMs = 0;
  });

  afterAll(async () => {
    await moduleRef.close();
    await handle.close();
  });

  const seed = (): Promise<BootstrapResult> => bootstrap.bootstrap({ agentName: 'Forge', spaceName: 'home' });

  describe('device tokens', () => {
    it('resolve to the device, acting for its agent with exactly its scopes', async () => {
      const s = await seed();
      await expect(resolver.resolve(s.device_token)).resolves.toEqual({
        type: 'device',
        id: s.device_id,
        agents: [{ agent_id: s.agent_id, scopes: [...DEFAULT_DEVICE_SCOPES] }],
      });
    });

    it('drop scope strings outside the registry instead of granting them', async () => {
      const s = await seed();
      await sql`UPDATE devices SET scopes = '["events:write", "root:everything", "actions:*"]'::jsonb WHERE device_id = ${s.device_id}::uuid`.execute(
        handle.db,
      );
      const principal = await resolver.resolve(s.device_token);
      expect(principal.agents).toEqual([{ agent_id: s.agent_id, scopes: ['events:write', 'actions:*'] }]);
    });

    it('that were never issued are refused', async () => {
      await seed();
      await unauthenticated(resolver.resolve(newDeviceToken()));
    });

    it('of a revoked device are refused from the next request on', async () => {
      const s = await seed();
      await resolver.resolve(s.device_token);
      await sql`UPDATE devices SET revoked_at = now() WHERE device_id = ${s.device_id}::uuid`.execute(handle.db);
      const error = await unauthenticated(resolver.resolve(s.device_token));
      expect(error.message).toMatch(/revoked/);
    });

    it('of a device whose agent is disabled are refused', async () => {
      const s = await seed();
      await sql`UPDATE agents SET disabled = true WHERE agent_id = ${s.agent_id}::uuid`.execute(handle.db);
      const error = await unauthenticated(resolver.resolve(s.device_token));
      expect(error.message).toMatch(/disabled/);
    });
  });

  describe('user tokens', () => {
    it('from bootstrap resolve to the owner, with the owner role’s scopes on the agent', async () => {
      const s = await seed();
      await expect(resolver.resolve(s.user_token)).resolves.toEqual({
        type: 'user',
        id: s.user_id,
        agents: [{ agent_id: s.agent_id, scopes: ROLE_SCOPES.owner }],
      });
    });

    it('signed with another key are refused', async () => {
      const s = await seed();
      const owner = await sql<{
        subject: string;
      }>`SELECT subject FROM users WHERE user_id = ${s.user_id}::uuid`.execute(handle.db);
      const elsewhere = mkdtempSync(path.join(tmpdir(), 'marvain-other-key-'));
      const forger = new LocalUserTokens(LocalUserTokens.keyFileIn(elsewhere), 3600, clock);
      const forged = await forger.issue({ subject: owner.rows[0]!.subject, email: null, displayName: null });
      // Well-formed and for a real user: only the signature is wrong.
      await expect(forger.verify(forged)).resolves.toMatchObject({ subject: owner.rows[0]!.subject });
      await unauthenticated(resolver.resolve(forged));
    });

    it('are refused once expired', async () => {
      const s = await seed();
      await expect(resolver.resolve(s.user_token)).resolves.toMatchObject({ id: s.user_id });
      clock.offsetMs = (config.userTokenTtlSeconds + 60) * 1000;
      const error = await unauthenticated(resolver.resolve(s.user_token));
      expect(error.message).toMatch(/expired/);
    });

    it('issued by a clock in the past and already expired are refused', async () => {
      const s = await seed();
      const owner = await sql<{
        subject: string;
      }>`SELECT subject FROM users WHERE user_id = ${s.user_id}::uuid`.execute(handle.db);
      const past: Clock = { now: () => new Date(Date.now() - 2 * 3600 * 1000) };
      const oldIssuer = new LocalUserTokens(LocalUserTokens.keyFileIn(config.dataDir), 3600, past);
      const stale = await oldIssuer.issue({ subject: owner.rows[0]!.subject, email: null, displayName: null });
      await unauthenticated(resolver.resolve(stale));
      // The same issuer with a current clock is accepted: only the age was wrong.
      const fresh = await new LocalUserTokens(LocalUserTokens.keyFileIn(config.dataDir), 3600, clock).issue({
        subject: owner.rows[0]!.subject,
        email: null,
        displayName: null,
      });
      await expect(resolver.resolve(fresh)).resolves.toMatchObject({ type: 'user', id: s.user_id });
    });

    it('signed with the hub’s key but not shaped as an access token are refused', async () => {
      const s = await seed();
      const owner = await sql<{
        subject: string;
      }>`SELECT subject FROM users WHERE user_id = ${s.user_id}::uuid`.execute(handle.db);
      const stored = JSON.parse(await readFile(LocalUserTokens.keyFileIn(config.dataDir), 'utf8')) as {
        kid: string;
        private: JWK;
      };
      const key = await importJWK(stored.private, 'EdDSA');
      const sign = (claims: Record<string, unknown>, issuerName = LOCAL_ISSUER): Promise<string> =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'EdDSA', kid: stored.kid })
          .setIssuer(issuerName)
          .setSubject(owner.rows[0]!.subject)
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(key);

      // The control: correctly shaped, it is accepted.
      await expect(
        resolver.resolve(await sign({ token_use: 'access', client_id: LOCAL_CLIENT_ID })),
      ).resolves.toMatchObject({ id: s.user_id });
      await unauthenticated(resolver.resolve(await sign({ token_use: 'id', client_id: LOCAL_CLIENT_ID })));
      await unauthenticated(resolver.resolve(await sign({ token_use: 'access', client_id: 'someone-else' })));
      await unauthenticated(
        resolver.resolve(await sign({ token_use: 'access', client_id: LOCAL_CLIENT_ID }, 'https://issuer.example')),
      );
    });

    it('for a verified subject no Marvain user has yet link a new user with no agents (first sight)', async () => {
      await seed();
      const token = await issuer.issue({
        subject: 'local:newcomer',
        email: 'new@example.com',
        displayName: 'Newcomer',
      });
      const first = await resolver.resolve(token);
      expect(first).toMatchObject({ type: 'user', agents: [] });
      const row = await sql<{ email: string; display_name: string; last_seen: Date | null }>`
        SELECT email, display_name, last_seen FROM users WHERE subject = 'local:newcomer'`.execute(handle.db);
      expect(row.rows).toEqual([{ email: 'new@example.com', display_name: 'Newcomer', last_seen: expect.any(Date) }]);
      // Seen again: the same user, not a second one.
      expect((await resolver.resolve(token)).id).toBe(first.id);
      const count = await sql<{
        n: number;
      }>`SELECT count(*)::int AS n FROM users WHERE subject = 'local:newcomer'`.execute(handle.db);
      expect(count.rows[0]?.n).toBe(1);
    });

    it('lose an agent on the next resolve once the membership is revoked', async () => {
      const s = await seed();
      const second = await bootstrap.bootstrap({ agentName: 'Second', spaceName: 'office', ownerUserId: s.user_id });
      const before = await resolver.resolve(s.user_token);
      expect(before.agents.map((a) => a.agent_id).sort()).toEqual([s.agent_id, second.agent_id].sort());

      await sql`UPDATE agent_memberships SET revoked_at = now() WHERE user_id = ${s.user_id}::uuid AND agent_id = ${s.agent_id}::uuid`.execute(
        handle.db,
      );

      const after = await resolver.resolve(s.user_token);
      expect(after).toEqual({
        type: 'user',
        id: s.user_id,
        agents: [{ agent_id: second.agent_id, scopes: ROLE_SCOPES.owner }],
      });
    });

    it('lose a disabled agent', async () => {
      const s = await seed();
      await sql`UPDATE agents SET disabled = true WHERE agent_id = ${s.agent_id}::uuid`.execute(handle.db);
      await expect(resolver.resolve(s.user_token)).resolves.toEqual({ type: 'user', id: s.user_id, agents: [] });
    });
  });

  it.each([
    ['an empty string', ''],
    ['a word', 'hello'],
    ['a bearer prefix', 'Bearer abc'],
    ['three dotted parts', 'a.b.c'],
    ['an unsigned JWT', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'],
    [
      'a JWT claiming alg none with a dummy signature',
      'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwidG9rZW5fdXNlIjoiYWNjZXNzIn0.c2ln',
    ],
    ['a short device-looking token', 'mvd_abc'],
    ['a device prefix with the right length but bad characters', `mvd_${'!'.repeat(43)}`],
    ['a very long string', 'x'.repeat(10_000)],
  ])('refuses garbage: %s', async (_label, token) => {
    await unauthenticated(resolver.resolve(token));
  });
});
