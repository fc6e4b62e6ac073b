/*
 * The "hub (no auth)" server of `npm run bench:ingest` (run-ingest.mjs bundles it to
 * dist/bench/hub-no-auth.cjs and starts it exactly as it starts dist/hub/main.cjs, with the same
 * MARVAIN_* settings): the local runtime of apps/hub/src/main.ts, built by the same createHubApp,
 * with one provider swapped. PrincipalResolver becomes MemoizedPrincipalResolver, which resolves
 * each distinct bearer token once through the real resolver and then answers from memory. So the
 * per-request authentication round trip to the database disappears, while the guard, its scope
 * check and everything after it still run: the difference between the two hubs is what
 * authentication costs a request in the database.
 *
 * Benchmark only, never to ship: a memoized principal outlives its revocation, and an agent
 * assertion could be replayed. The production hub has no way to turn authentication off.
 */
import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Principal } from '@marvain/contracts';
import { PrincipalResolver } from '@marvain/identity';
import { HubConfig, loadHubSettings } from '@marvain/platform';
import { handleStopSignals, startLocalHub, type HubApplicationFactory } from '@marvain/hub';

/** The real resolver, asked once per distinct token; its answer is reused for every later request. */
class MemoizedPrincipalResolver extends PrincipalResolver {
  private readonly principals = new Map<string, Promise<Principal>>();

  override resolve(token: string): Promise<Principal> {
    let principal = this.principals.get(token);
    if (!principal) {
      principal = super.resolve(token);
      this.principals.set(token, principal);
      // A refused token is not remembered: the real resolver decides again next time.
      principal.catch(() => this.principals.delete(token));
    }
    return principal;
  }
}

/** createHubApp's module, adapter and options, compiled with the resolver swapped (Nest's provider override). */
const withMemoizedPrincipals: HubApplicationFactory = async (root, adapter, options) => {
  const builder = Test.createTestingModule({ imports: [root] })
    .overrideProvider(PrincipalResolver)
    .useClass(MemoizedPrincipalResolver);
  // Start-up logs (migrations, first run) go where NestFactory would send them.
  if (options.logger && !Array.isArray(options.logger)) {
    builder.setLogger(options.logger);
  }
  const moduleRef = await builder.compile();
  return moduleRef.createNestApplication<NestFastifyApplication>(adapter, options);
};

/** apps/hub/src/main.ts's start-up and shutdown, without the banner. */
async function main(): Promise<void> {
  const config = new HubConfig(loadHubSettings(process.env));
  const signals = handleStopSignals(
    () => undefined,
    () => undefined,
  );
  const hub = await startLocalHub(config, { createApplication: withMemoizedPrincipals, signal: signals.signal });
  process.stdout.write(`hub (no auth) listening on ${hub.url}; first start: ${hub.outcome.kind}\n`);
  signals.running(hub);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `hub (no auth) failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
