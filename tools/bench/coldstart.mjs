#!/usr/bin/env node
// `npm run bench:coldstart`: the cold start of each built Lambda entry, beside a bare Fastify
// handler behind @fastify/aws-lambda, in the same run.
//
// A cold start here is a fresh Node process (tools/build/lambda-runtime.cjs, the stand-in for a
// Lambda container) that loads the bundle and answers its first invocation:
//   http         GET /v1/health, then an authenticated GET /v1/actions (device token)
//   ws           $connect with a device token (authenticates, stores the connection)
//   planner      an SQS batch of one reference to an event already planned (the redelivery path)
//   tool-runner  an SQS batch of one reference to an action already executed
//   bare         the same two HTTP requests as http, answered by bare Fastify with the same queries
// Each is measured in BENCH_RUNS fresh processes (rounds interleave the entries, after one
// untimed warm-up round) and the medians are printed with the bundle sizes and the ratios to bare.
//
// The entries run as deployed, MARVAIN_RUNTIME=aws (no migrations at start, AWS adapters), on a
// PostgreSQL database created for the run (DATABASE_URL stands in for the Data API). The measured
// invocations touch only the database, except ws's connection write, which goes to a local stand-in
// for DynamoDB (AWS_ENDPOINT_URL_DYNAMODB). The data they read is made first through the same
// bundles in the local runtime (ingest, plan, approve, execute).
//
// Settings (environment):
//   BENCH_RUNS=7            fresh processes per entry (at least 5)
//   BENCH_PG_ADMIN_URL      the PostgreSQL server (default DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
//   BENCH_LOG_LEVEL=info    MARVAIN_LOG_LEVEL of the entries
//   BENCH_KEEP=1            keep the temp folder (not the database)
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import pg from 'pg';
import { bundleLambdas, LAMBDA_BUNDLE_LIMIT_BYTES, LAMBDA_ENTRIES } from '../build/bundle.mjs';
import { FAKE_AWS_ENV } from '../testing/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUNTIME = path.join(root, 'tools', 'build', 'lambda-runtime.cjs');
const HTTP_AIM = 2.5;

const runs = Number(process.env.BENCH_RUNS || 7);
if (!Number.isInteger(runs) || runs < 5) {
  throw new Error(`BENCH_RUNS must be a whole number >= 5 (got "${process.env.BENCH_RUNS}")`);
}
const adminUrl =
  process.env.BENCH_PG_ADMIN_URL || process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const logLevel = process.env.BENCH_LOG_LEVEL || 'info';
const keep = process.env.BENCH_KEEP === '1';

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started or created is registered here, and removed on exit or Ctrl-C.

const children = new Set();
let temp = null;
let databaseName = null;
let dynamo = null;

async function cleanup() {
  for (const child of children) {
    child.kill('SIGKILL');
  }
  dynamo?.close();
  if (databaseName) {
    const admin = new pg.Client({ connectionString: adminUrl });
    try {
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    } catch (error) {
      console.error(`bench: could not drop database ${databaseName}: ${error.message}`);
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  if (temp && !keep) {
    rmSync(temp, { recursive: true, force: true });
  } else if (temp) {
    console.log(`bench: kept ${temp}`);
  }
}
process.on('exit', () => {
  for (const child of children) {
    child.kill('SIGKILL');
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Containers: one fresh process per cold start.

/** Forks the runtime stand-in on a bundle; resolves when it has loaded, with an invoke() for events. */
function startContainer(bundle, env) {
  const forkedAt = performance.now();
  const child = fork(RUNTIME, [bundle], { cwd: path.dirname(bundle), env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  children.add(child);
  let output = '';
  const keepOutput = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout.on('data', keepOutput);
  child.stderr.on('data', keepOutput);
  const waiting = new Map();
  let nextId = 1;
  child.on('message', (reply) => {
    if (!('id' in reply)) {
      return;
    }
    const waiter = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.error !== undefined) {
      waiter.reject(new Error(`${path.basename(path.dirname(bundle))}: ${reply.error}\n${output}`));
    } else {
      waiter.resolve({ result: reply.result, ms: reply.ms, at: performance.now() });
    }
  });
  child.on('exit', (code) => {
    children.delete(child);
    for (const waiter of waiting.values()) {
      waiter.reject(new Error(`${bundle} exited (${code}):\n${output}`));
    }
  });
  return new Promise((resolve, reject) => {
    child.once('message', (reply) => {
      if (!reply.ready) {
        return reject(new Error(`${bundle} failed to load: ${reply.error}\n${output}`));
      }
      resolve({
        loadMs: reply.loadMs,
        forkedAt,
        invoke: (event) =>
          new Promise((resolveInvoke, rejectInvoke) => {
            const id = nextId++;
            waiting.set(id, { resolve: resolveInvoke, reject: rejectInvoke });
            child.send({ id, event });
          }),
        stop: () =>
          new Promise((resolveStop) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              return resolveStop();
            }
            child.once('exit', () => resolveStop());
            child.kill();
          }),
      });
    });
  });
}

function expectStatus(what, answer, status) {
  const code = answer.result?.statusCode;
  if (code !== status) {
    throw new Error(`${what}: expected ${status}, got ${code} ${answer.result?.body ?? JSON.stringify(answer.result)}`);
  }
  return answer.result.body ? JSON.parse(answer.result.body) : null;
}

function expectNoFailures(what, answer) {
  if (answer.result?.batchItemFailures?.length !== 0) {
    throw new Error(`${what}: expected no batch item failures, got ${JSON.stringify(answer.result)}`);
  }
}

/** A stand-in for DynamoDB's API: every call succeeds with an empty answer (PutItem returns nothing). */
function startDynamoStandIn() {
  return new Promise((resolve) => {
    const server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        response.end('{}');
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

// ---------------------------------------------------------------------------------------------

async function main() {
  temp = mkdtempSync(path.join(os.tmpdir(), 'marvain-bench-coldstart-'));

  // 1. Build: the four entries, and the bare handler the same way (everything bundled, minified).
  console.log('bench: building the Lambda bundles and the bare handler');
  const built = await bundleLambdas();
  const bareBundle = path.join(root, 'dist', 'bench', 'coldstart-bare', 'index.js');
  await build({
    entryPoints: [path.join(root, 'tools', 'bench', 'coldstart-bare.mjs')],
    outfile: bareBundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    external: [
      'pg-native',
      '@electric-sql/pglite',
      '@electric-sql/pglite/*',
      '@aws-sdk/client-rds-data',
      'kysely-data-api',
    ],
    minify: true,
    keepNames: true,
    logLevel: 'warning',
  });
  // Run copies from outside the repository, as Lambda would: nothing from node_modules.
  const bundles = { bare: path.join(temp, 'bundles', 'bare', 'index.js') };
  cpSync(path.dirname(bareBundle), path.dirname(bundles.bare), { recursive: true });
  for (const name of Object.keys(LAMBDA_ENTRIES)) {
    bundles[name] = path.join(temp, 'bundles', name, 'index.js');
    cpSync(path.join(root, 'dist', 'lambda', name), path.dirname(bundles[name]), { recursive: true });
  }
  // The recorded events and their builders, shared with the bundle test.
  const eventsModule = path.join(temp, 'lambda-events.mjs');
  await build({
    entryPoints: [path.join(root, 'apps/hub/src/lambda/testing/lambda-events.ts')],
    outfile: eventsModule,
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'warning',
  });
  const { restEvent, connectEvent, sqsEvent } = await import(pathToFileURL(eventsModule).href);

  // 2. A database of its own, with an owner, agent, space and device (the CLI's bootstrap).
  databaseName = `marvain_bench_coldstart_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect().catch((error) => {
    throw new Error(
      `cannot reach PostgreSQL at ${adminUrl.replace(/:[^:@/]*@/, ':***@')} (${error.message}); set BENCH_PG_ADMIN_URL`,
    );
  });
  const { rows } = await admin.query('SHOW server_version');
  await admin.query(`CREATE DATABASE "${databaseName}"`);
  await admin.end();
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${databaseName}` }).toString();
  const dataDir = path.join(temp, 'data');
  const localEnv = {
    PATH: process.env.PATH,
    MARVAIN_RUNTIME: 'local',
    DATABASE_URL: databaseUrl,
    MARVAIN_DATA_DIR: dataDir,
    MARVAIN_CONFIG: path.join(dataDir, 'marvain-config.yaml'),
    MARVAIN_MIGRATIONS_DIR: path.join(root, 'migrations'),
    MARVAIN_LOG_LEVEL: 'warn',
  };
  const creds = JSON.parse(
    execFileSync(
      process.execPath,
      [
        path.join(root, 'tools/build/run-cli.mjs'),
        'bootstrap',
        '--agent-name',
        'Bench',
        '--space-name',
        'home',
        '--json',
      ],
      {
        cwd: root,
        env: localEnv,
        encoding: 'utf8',
      },
    ),
  );

  // 3. The data the measured invocations read, made through the bundles themselves (local runtime).
  console.log('bench: ingesting, planning, approving and executing one transcript through the bundles');
  const [setupHttp, setupPlanner, setupRunner] = await Promise.all(
    ['http', 'planner', 'tool-runner'].map((name) => startContainer(bundles[name], localEnv)),
  );
  const ingest = expectStatus(
    'POST /v1/events',
    await setupHttp.invoke(
      restEvent('POST', '/v1/events', {
        token: creds.device_token,
        body: { space_id: creds.space_id, type: 'transcript_chunk', payload: { text: 'tell Sam the package arrived' } },
      }),
    ),
    202,
  );
  const eventReference = { event_id: ingest.event_id, agent_id: creds.agent_id };
  expectNoFailures('planning', await setupPlanner.invoke(sqsEvent('marvain-transcripts', [{ body: eventReference }])));
  const proposed = expectStatus(
    'proposed actions',
    await setupHttp.invoke(
      restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}&status=proposed`, { token: creds.user_token }),
    ),
    200,
  );
  const actionId = proposed.actions[0]?.action_id;
  if (!actionId) {
    throw new Error('the planner proposed no action');
  }
  expectStatus(
    'approve',
    await setupHttp.invoke(restEvent('POST', `/v1/actions/${actionId}/approve`, { token: creds.user_token })),
    200,
  );
  expectNoFailures(
    'execution',
    await setupRunner.invoke(
      sqsEvent('marvain-actions', [{ body: { action_id: actionId, agent_id: creds.agent_id } }]),
    ),
  );
  await Promise.all([setupHttp, setupPlanner, setupRunner].map((container) => container.stop()));
  // Every start copies audit entries not yet in the sink (SchemaAuditor); a last local start copies
  // the setup's to the audit folder, so no measured start has S3 writes to make.
  const flusher = await startContainer(bundles.http, localEnv);
  expectStatus('health', await flusher.invoke(restEvent('GET', '/v1/health')), 200);
  await flusher.stop();

  // 4. The measured runs, as deployed.
  dynamo = await startDynamoStandIn();
  const awsEnv = {
    PATH: process.env.PATH,
    MARVAIN_RUNTIME: 'aws',
    DATABASE_URL: databaseUrl,
    MARVAIN_LOG_LEVEL: logLevel,
    ...FAKE_AWS_ENV,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamo.address().port}`,
    MARVAIN_TRANSCRIPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
    MARVAIN_ACTION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
    MARVAIN_AUDIT_BUCKET: 'marvain-audit-123456789012',
    MARVAIN_CONNECTIONS_TABLE: 'marvain-connections',
    MARVAIN_WS_ENDPOINT: 'https://w7c4n1m8zd.execute-api.eu-west-1.amazonaws.com/prod',
    MARVAIN_COGNITO_USER_POOL_ID: 'eu-west-1_Marvain01',
    MARVAIN_COGNITO_CLIENT_ID: '4s5marvainlambdatestclient',
  };
  const list = () => restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}`, { token: creds.device_token });
  const targets = {
    bare: {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
      events: () => [restEvent('GET', '/v1/health'), list()],
      check: [200, 200],
    },
    http: { env: awsEnv, events: () => [restEvent('GET', '/v1/health'), list()], check: [200, 200] },
    ws: {
      env: awsEnv,
      events: () => [connectEvent(`bench-${randomBytes(6).toString('base64url')}`, { query: creds.device_token })],
      check: [200],
    },
    planner: {
      env: awsEnv,
      events: () => [sqsEvent('marvain-transcripts', [{ body: eventReference, receiveCount: 2 }])],
      check: ['batch'],
    },
    'tool-runner': {
      env: awsEnv,
      events: () => [
        sqsEvent('marvain-actions', [{ body: { action_id: actionId, agent_id: creds.agent_id }, receiveCount: 2 }]),
      ],
      check: ['batch'],
    },
  };

  const samples = Object.fromEntries(Object.keys(targets).map((name) => [name, []]));
  console.log(
    `bench: ${runs} cold starts per entry (plus one warm-up round), MARVAIN_RUNTIME=aws, log level ${logLevel}, PostgreSQL ${rows[0].server_version}`,
  );
  for (let round = 0; round <= runs; round++) {
    for (const [name, target] of Object.entries(targets)) {
      const container = await startContainer(bundles[name], target.env);
      const answers = [];
      for (const [i, event] of target.events().entries()) {
        const answer = await container.invoke(event);
        if (target.check[i] === 'batch') {
          expectNoFailures(name, answer);
        } else {
          expectStatus(`${name} invocation ${i + 1}`, answer, target.check[i]);
        }
        answers.push(answer);
      }
      await container.stop();
      if (round === 0) {
        continue;
      }
      samples[name].push({
        load: container.loadMs,
        first: answers[0].ms,
        second: answers[1]?.ms ?? null,
        answered: container.loadMs + answers.reduce((sum, answer) => sum + answer.ms, 0),
        wall: answers.at(-1).at - container.forkedAt,
      });
    }
  }

  // 5. Report.
  const sizes = Object.fromEntries(built.map(({ outfile, size }) => [path.basename(path.dirname(outfile)), size]));
  sizes.bare = statSync(bareBundle).size;
  const summary = Object.fromEntries(
    Object.entries(samples).map(([name, list]) => [
      name,
      {
        load: median(list.map((s) => s.load)),
        first: median(list.map((s) => s.first)),
        second: list[0].second === null ? null : median(list.map((s) => s.second)),
        answered: median(list.map((s) => s.answered)),
        wall: median(list.map((s) => s.wall)),
      },
    ]),
  );
  const bare = summary.bare;
  const ms = (value) => (value === null ? '' : value.toFixed(0));
  const header = [
    'entry',
    'bundle MiB',
    'load ms',
    '1st answer ms',
    '2nd answer ms',
    'load+answers ms',
    'process wall ms',
    '× bare (load+answers)',
    '× bare (wall)',
  ];
  const table = [header];
  for (const [name, s] of Object.entries(summary)) {
    table.push([
      name,
      (sizes[name] / 1024 / 1024).toFixed(2),
      ms(s.load),
      ms(s.first),
      ms(s.second),
      ms(s.answered),
      ms(s.wall),
      (s.answered / bare.answered).toFixed(2),
      (s.wall / bare.wall).toFixed(2),
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  console.log('');
  for (const row of table) {
    console.log(
      row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  '),
    );
  }
  console.log('');
  console.log(
    'medians; load = requiring the bundle; answers = handler time of the first invocation(s), including creating the',
  );
  console.log(
    'application on the first; http and bare answer GET /v1/health then GET /v1/actions; wall = fork to last answer.',
  );
  console.log(
    `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.log('');

  const ratio = summary.http.answered / bare.answered;
  const oversized = Object.entries(sizes).filter(([name, size]) => name !== 'bare' && size > LAMBDA_BUNDLE_LIMIT_BYTES);
  console.log(`aim: http ≤ ${HTTP_AIM}× bare: ${ratio.toFixed(2)}× → ${ratio <= HTTP_AIM ? 'met' : 'MISSED'}`);
  console.log(
    `aim: every bundle ≤ 5 MiB: ${oversized.length === 0 ? 'met' : `MISSED (${oversized.map(([name]) => name).join(', ')})`}`,
  );
}

try {
  await main();
} finally {
  await cleanup();
}
