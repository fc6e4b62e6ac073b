/*
 * `npm run bench:data-api` (tools/bench/run-data-api.mjs bundles and runs this file): RDS Data API
 * round trips per REST route of the thin path. The hub runs in-process (createHubApp, the test
 * settings: local adapters, no background workers) on a fresh migrated PGlite that it reaches only
 * through the local Data API endpoint, exactly as the AWS runtime reaches Aurora. Each measured
 * request runs inside withRequestTag(route), so every Data API call it causes carries the route in
 * a header and the endpoint counts it there (BeginTransaction, ExecuteStatement, CommitTransaction
 * and RollbackTransaction each count as one call). Setup and warm-up calls are not counted.
 * BENCH_VERBOSE=1 also lists each route's calls with their SQL.
 */
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { migrate, openDatabase, type DatabaseHandle } from '@marvain/db';
import { BootstrapService, type BootstrapResult } from '@marvain/identity';
import { PlannerConsumer } from '@marvain/planner';
import { testHubConfig } from '@marvain/platform/testing';
import { useFakeAwsCredentials } from '@marvain/testing';
import { startDataApiServer, withRequestTag, type DataApiServer } from '@marvain/data-api';
import { createHubApp } from '@marvain/hub';

const BUDGET = 2;

const TARGET = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:marvain-bench',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:marvain-bench',
  database: 'marvain',
  region: 'us-east-1',
};

interface Measured {
  route: string;
  status: number;
  calls: Partial<Record<string, number>>;
  total: number;
}

async function main(): Promise<void> {
  useFakeAwsCredentials();

  // The backing database: a fresh PGlite, migrated directly (as `marvain init db` would before the hub starts).
  const backing = await openDatabase({ kind: 'pglite', dataDir: 'memory' });
  await migrate(backing.db);
  const server: DataApiServer = await startDataApiServer({
    database: { pglite: backing.pglite as NonNullable<DatabaseHandle['pglite']> },
    resourceArn: TARGET.resourceArn,
    secretArn: TARGET.secretArn,
    databaseName: TARGET.database,
    logCalls: true,
  });
  const handle = await openDatabase({ kind: 'data-api', endpoint: server.endpoint, ...TARGET });
  const app: NestFastifyApplication = await createHubApp(testHubConfig(), { databaseHandle: handle });

  try {
    const creds: BootstrapResult = await app.get(BootstrapService).bootstrap({ agentName: 'Bench', spaceName: 'home' });
    const call = async (
      method: 'GET' | 'POST',
      url: string,
      token: string | null,
      body?: unknown,
    ): Promise<{ status: number; json: unknown }> => {
      const response = await app.inject({
        method,
        url,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { status: response.statusCode, json: response.body ? (JSON.parse(response.body) as unknown) : null };
    };
    const measured: Measured[] = [];
    /** One counted request: every Data API call made while handling it carries `route`. */
    const measure = async (
      route: string,
      method: 'GET' | 'POST',
      url: string,
      token: string | null,
      body?: unknown,
    ): Promise<void> => {
      const response = await withRequestTag(route, () => call(method, url, token, body));
      // Anything the request left running after its response (after-commit work) is still its own.
      await new Promise((resolve) => setTimeout(resolve, 100));
      measured.push({
        route,
        status: response.status,
        calls: server.calls.byOperation(route),
        total: server.calls.total(route),
      });
    };
    const transcript = (text: string, clientEventId: string): unknown => ({
      space_id: creds.space_id,
      type: 'transcript_chunk',
      payload: { text },
      client_event_id: clientEventId,
    });
    const agent = creds.agent_id;

    // Warm-up and data: three planned transcripts, each proposing a send_message action.
    for (const [i, text] of [
      'tell Sam the package arrived',
      'tell Ada the door is open',
      'tell Bo dinner is ready',
    ].entries()) {
      await call('POST', '/v1/events', creds.device_token, transcript(text, `warm-${i}`));
    }
    await app.get(PlannerConsumer).drainOnce();
    const proposed = (await call('GET', `/v1/actions?agent_id=${agent}&status=proposed`, creds.user_token)).json as {
      actions: Array<{ action_id: string }>;
    };
    const [warmAction, approveAction, rejectAction] = proposed.actions.map((a) => a.action_id);
    if (!warmAction || !approveAction || !rejectAction) {
      throw new Error(`expected three proposed actions, got ${proposed.actions.length}`);
    }
    await call('POST', `/v1/actions/${warmAction}/approve`, creds.user_token);
    await call('GET', `/v1/memories?agent_id=${agent}`, creds.user_token);
    await call('GET', `/v1/actions/${warmAction}`, creds.user_token);
    await call('GET', `/v1/audit/verify?agent_id=${agent}`, creds.user_token);
    await call('GET', '/v1/health', null);
    server.calls.reset();

    // One representative request per route.
    await measure('GET /v1/health', 'GET', '/v1/health', null);
    await measure(
      'POST /v1/events',
      'POST',
      '/v1/events',
      creds.device_token,
      transcript('tell Cy the lights are on', 'measured-1'),
    );
    await measure(
      'POST /v1/events (duplicate)',
      'POST',
      '/v1/events',
      creds.device_token,
      transcript('tell Cy the lights are on', 'measured-1'),
    );
    await measure('GET /v1/memories', 'GET', `/v1/memories?agent_id=${agent}`, creds.user_token);
    await measure('GET /v1/actions', 'GET', `/v1/actions?agent_id=${agent}&status=proposed`, creds.user_token);
    await measure('GET /v1/actions/:id', 'GET', `/v1/actions/${approveAction}`, creds.user_token);
    await measure('POST /v1/actions/:id/approve', 'POST', `/v1/actions/${approveAction}/approve`, creds.user_token);
    await measure('POST /v1/actions/:id/reject', 'POST', `/v1/actions/${rejectAction}/reject`, creds.user_token);
    await measure('GET /v1/audit/verify', 'GET', `/v1/audit/verify?agent_id=${agent}`, creds.user_token);

    report(measured);
    if (process.env['BENCH_VERBOSE'] === '1') {
      for (const m of measured) {
        process.stdout.write(
          `\n${m.route}\n${server.calls
            .log(m.route)
            .map((line) => `  ${line}`)
            .join('\n')}\n`,
        );
      }
    }
  } finally {
    await app.close();
    await handle.close();
    await server.close();
    await backing.pglite?.close();
  }
}

function report(measured: Measured[]): void {
  const operations = ['BeginTransaction', 'ExecuteStatement', 'CommitTransaction', 'RollbackTransaction'] as const;
  const short = {
    BeginTransaction: 'begin',
    ExecuteStatement: 'execute',
    CommitTransaction: 'commit',
    RollbackTransaction: 'rollback',
  } as const;
  const width = Math.max(...measured.map((m) => m.route.length), 5);
  const lines = [
    `RDS Data API calls per REST route (local adapters, workers off; budget ${BUDGET} per route)`,
    '',
    `${'route'.padEnd(width)}  status  calls  ${operations.map((o) => short[o].padStart(9)).join('')}`,
    ...measured.map(
      (m) =>
        `${m.route.padEnd(width)}  ${String(m.status).padStart(6)}  ${String(m.total).padStart(5)}  ${operations
          .map((o) => String(m.calls[o] ?? 0).padStart(9))
          .join('')}${m.total > BUDGET ? '   over budget' : ''}`,
    ),
    '',
  ];
  const over = measured.filter((m) => m.total > BUDGET);
  lines.push(
    over.length === 0
      ? `Every route is within ${BUDGET} calls.`
      : `${over.length} of ${measured.length} routes exceed ${BUDGET} calls: ${over.map((m) => `${m.route} (${m.total})`).join(', ')}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:data-api failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
