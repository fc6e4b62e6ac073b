import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { sql, type DatabaseConnection } from 'kysely';
import { AuditService } from '@marvain/audit';
import type { Principal } from '@marvain/contracts';
import { testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import { openFeatureTestContext, type FeatureTestContext } from '@marvain/platform/testing';
import { AGENT_ASSERTION_AUDIENCE } from '../agent-credentials/agent-assertions';
import { AgentCredentialsService } from '../agent-credentials/agent-credentials.service';
import { BootstrapService, type BootstrapResult } from '../bootstrap/bootstrap.service';
import { IdentityModule } from '../identity.module';
import { PrincipalResolver } from './principal-resolver.service';
import { TestStreamPublisherModule } from '@marvain/streams/testing';

jest.setTimeout(60_000);

/**
 * Runs `work` and returns what the database received meanwhile, one entry per round trip. `settle`
 * first lets background work finish (the audit copy that bootstrap and key registration set off
 * after their commits), so whatever arrives during `work` is its own.
 *
 * Directly on PGlite or PostgreSQL, every connection Kysely's executor hands out is wrapped, so each
 * statement counts, and so do BEGIN/COMMIT/ROLLBACK: Kysely's PostgreSQL driver sends those through
 * the same connection (and a transaction's queries run on it too). Behind the Data API
 * (MARVAIN_TEST_DB=data-api) a transaction begins and commits through calls of its own, so there the
 * endpoint's own call counter is the measure.
 */
type RoundTripCounter = <T>(work: () => Promise<T>) => Promise<{ result: T; roundTrips: string[] }>;

function countRoundTrips(handle: TestDatabase, settle: () => Promise<unknown>): RoundTripCounter {
  const dataApi = handle.dataApi;
  if (dataApi) {
    return async (work) => {
      await settle();
      dataApi.calls.reset();
      const result = await work();
      const roundTrips = Object.values(dataApi.calls.snapshot()).flatMap((byOperation) =>
        Object.entries(byOperation).flatMap(([operation, n]) => Array<string>(n ?? 0).fill(operation)),
      );
      return { result, roundTrips };
    };
  }

  let sent: string[] = [];
  // getExecutor() is marked internal in Kysely's types, but it is the one place every statement of
  // this Kysely instance (the repositories' KYSELY) passes through with its connection.
  const executor = handle.db.getExecutor();
  const provideConnection = executor.provideConnection.bind(executor);
  executor.provideConnection = (consumer) =>
    provideConnection((connection) => {
      const counted: DatabaseConnection = {
        executeQuery: (query) => {
          sent.push(query.sql);
          return connection.executeQuery(query);
        },
        streamQuery: (query, chunkSize) => {
          sent.push(query.sql);
          return connection.streamQuery(query, chunkSize);
        },
      };
      return consumer(counted);
    });
  return async (work) => {
    await settle();
    sent = [];
    const result = await work();
    return { result, roundTrips: sent };
  };
}

/**
 * The aim: at most one database round trip per request for authentication. Each kind of
 * credential is resolved with everything it needs read in one statement; an agent assertion's jti is
 * recorded in a second one, only once its signature has verified (so forgeries write nothing). The one exception is a user whose last_seen is older than
 * LAST_SEEN_RESOLUTION_SECONDS: that request also writes it, at most once per 5 minutes per user.
 * (A Cognito subject's very first request, which links a new user, is a one-off and not bounded here.)
 */
describe(`PrincipalResolver round trips per resolve() (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let resolver: PrincipalResolver;
  let counted: RoundTripCounter;
  let home: BootstrapResult;

  beforeAll(async () => {
    context = await openFeatureTestContext([IdentityModule, TestStreamPublisherModule]);
    resolver = context.moduleRef.get(PrincipalResolver);
    home = await context.moduleRef.get(BootstrapService).bootstrap({ agentName: 'Forge', spaceName: 'home' });
    const audit = context.moduleRef.get(AuditService);
    counted = countRoundTrips(context.db, () => audit.flush());
  });

  afterAll(async () => {
    await context.close();
  });

  const setLastSeen = (ago: string): Promise<unknown> =>
    sql`UPDATE users SET last_seen = now() - ${ago}::interval WHERE user_id = ${home.user_id}::uuid`.execute(
      context.db.db,
    );

  it('(the counter itself: a transaction with one statement is three round trips, BEGIN and COMMIT included)', async () => {
    const { roundTrips } = await counted(() =>
      context.db.db.transaction().execute((trx) => sql`SELECT 1`.execute(trx)),
    );
    expect(roundTrips).toHaveLength(3);
  });

  it('a device token: one', async () => {
    const { result, roundTrips } = await counted(() => resolver.resolve(home.device_token));
    expect(result).toMatchObject({ type: 'device', id: home.device_id });
    expect(roundTrips).toHaveLength(1);
  });

  it('a user token whose last_seen is fresh: one', async () => {
    await setLastSeen('10 seconds');
    const { result, roundTrips } = await counted(() => resolver.resolve(home.user_token));
    expect(result).toMatchObject({ type: 'user', id: home.user_id });
    expect(roundTrips).toHaveLength(1);
  });

  it('a user token whose last_seen is stale: two (the read and the last_seen write), then one again', async () => {
    await setLastSeen('1 hour');
    const stale = await counted(() => resolver.resolve(home.user_token));
    expect(stale.result).toMatchObject({ type: 'user', id: home.user_id });
    expect(stale.roundTrips).toHaveLength(2);

    const next = await counted(() => resolver.resolve(home.user_token));
    expect(next.result).toMatchObject({ type: 'user', id: home.user_id });
    expect(next.roundTrips).toHaveLength(1);
  });

  it('an agent assertion: two (the key lookup, then, once the signature verifies, the jti record)', async () => {
    const owner: Principal = await resolver.resolve(home.user_token);
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    await context.moduleRef
      .get(AgentCredentialsService)
      .register(owner, home.agent_id, 'EdDSA', { ...(await exportJWK(publicKey)) });
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer(home.agent_id)
      .setSubject(home.agent_id)
      .setAudience(AGENT_ASSERTION_AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(now + 120)
      .setJti(randomUUID())
      .sign(privateKey);

    const { result, roundTrips } = await counted(() => resolver.resolve(assertion));
    expect(result).toEqual({
      type: 'agent',
      id: home.agent_id,
      agents: [{ agent_id: home.agent_id, scopes: ['agents:read'] }],
    });
    expect(roundTrips).toHaveLength(2);
  });
});
