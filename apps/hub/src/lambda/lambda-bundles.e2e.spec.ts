import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { APIGatewayProxyResult, SQSBatchResponse } from 'aws-lambda';
import { TokenVerifier } from 'livekit-server-sdk';
import { sql } from 'kysely';
import { loadMigrations, migrate, openDatabase, type DatabaseHandle, type DatabaseKind } from '@marvain/db';
import { createTestDatabase, TEST_DATA_API_TARGET } from '@marvain/db/testing';
import { BootstrapService, type BootstrapResult } from '@marvain/identity';
import { testHubConfig } from '@marvain/platform/testing';
import { StreamRepository } from '@marvain/streams';
import { FAKE_AWS_ENV, FakeAws } from '@marvain/testing';
import { createHubApp } from '../setup';
import { TEST_LIVEKIT, webhookBody, webhookHeaders } from '../testing/livekit';
import { LambdaContainer } from './testing/lambda-container';
import {
  connectEvent,
  disconnectEvent,
  messageEvent,
  restEvent,
  scheduledEvent,
  sqsEvent,
} from './testing/lambda-events';
import type { MaintenanceResult } from '@marvain/presence';
import type { WebSocketResult } from './websocket-routes';

const ROOT = path.resolve(__dirname, '../../../..');
const ENTRIES = ['http', 'ws', 'planner', 'tool-runner', 'maintenance'] as const;
const FIVE_MIB = 5 * 1024 * 1024;
const SCHEMA_VERSION = loadMigrations().at(-1)?.version;
const LIVEKIT_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marvain/livekit-AbCdEf';
/** Another URL than the local containers' LIVEKIT_URL: a token carrying it got its settings from the secret. */
const SECRET_LIVEKIT_URL = 'wss://rooms-from-the-secret.example.com';

interface BundleDatabase {
  /** How the bundles reach it. */
  kind: DatabaseKind;
  /** The environment that points a bundle at it. */
  env: NodeJS.ProcessEnv;
  /** A direct handle, for the test's own set-up. */
  handle: DatabaseHandle;
  close(): Promise<void>;
}

/**
 * The bundles leave PGlite out, so they reach a real database another way:
 * - with DATABASE_URL, a PostgreSQL database created for this test on that server (node-postgres);
 * - otherwise through the local RDS Data API endpoint (tools/data-api) over an in-memory PGlite
 *   in this process: kysely-data-api and the real RDSDataClient, as on AWS, and no service needed.
 * Either way the test's own set-up uses `handle`.
 */
async function createBundleDatabase(): Promise<BundleDatabase> {
  const adminUrl = process.env['DATABASE_URL'];
  if (adminUrl) {
    const name = `marvain_lambda_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    const admin = await openDatabase({ kind: 'postgres', url: adminUrl, poolSize: 1 });
    await sql.raw(`CREATE DATABASE ${name}`).execute(admin.db);
    const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
    const handle = await openDatabase({ kind: 'postgres', url, poolSize: 2 });
    await migrate(handle.db);
    return {
      kind: 'postgres',
      env: { DATABASE_URL: url },
      handle,
      close: async () => {
        await handle.close();
        await sql.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).execute(admin.db);
        await admin.close();
      },
    };
  }
  // The test helper's Data API mode: a fresh migrated PGlite behind the local endpoint.
  const before = process.env['MARVAIN_TEST_DB'];
  process.env['MARVAIN_TEST_DB'] = 'data-api';
  const handle = await createTestDatabase().finally(() => {
    if (before === undefined) {
      delete process.env['MARVAIN_TEST_DB'];
    } else {
      process.env['MARVAIN_TEST_DB'] = before;
    }
  });
  if (!handle.dataApi) {
    throw new Error(`expected a database behind the local Data API endpoint, got ${handle.label}`);
  }
  return {
    kind: 'data-api',
    env: {
      MARVAIN_DB_CLUSTER_ARN: TEST_DATA_API_TARGET.resourceArn,
      MARVAIN_DB_SECRET_ARN: TEST_DATA_API_TARGET.secretArn,
      MARVAIN_DB_NAME: TEST_DATA_API_TARGET.database,
      MARVAIN_DATA_API_ENDPOINT: handle.dataApi.endpoint,
    },
    handle,
    close: () => handle.close(),
  };
}

const json = (result: APIGatewayProxyResult): any => JSON.parse(result.body);

const CONNECTIONS_TABLE = 'marvain-connections';
/** The connections table as template.yaml declares it (tools/sam checks the template's side). */
const CONNECTIONS_SCHEMA = {
  [CONNECTIONS_TABLE]: {
    key: ['connection_id', 'item_id'] as [string, string],
    indexes: {
      agent_subscribers: ['agent_id', 'connection_id'] as [string, string],
      principal_connections: ['principal_key', 'connection_id'] as [string, string],
    },
  },
};

describe(`the built Lambda bundles, invoked with recorded API Gateway and SQS events (${process.env['DATABASE_URL'] ? 'postgres' : 'data-api over pglite'})`, () => {
  let database: BundleDatabase;
  let creds: BootstrapResult;
  let wsCreds: BootstrapResult;
  let bundleDir: string;
  const containers = {} as Record<(typeof ENTRIES)[number], LambdaContainer>;
  /** The http bundle as deployed: MARVAIN_RUNTIME=aws (SQS, S3, DynamoDB adapters; no migrations at start). */
  let awsHttp: LambdaContainer;
  let awsFirstHealth: APIGatewayProxyResult;
  /** The ws bundle as deployed, its DynamoDB, Management API, SQS and S3 the local stand-in `fakeAws`. */
  let awsWs: LambdaContainer;
  let fakeAws: FakeAws;
  /** Seqs of the stream entries set up on the agent's stream (actions.updated, then one events.new). */
  let streamSeqs: number[];
  /** What beforeAll made, undone in reverse order by afterAll (also after a failed set-up). */
  const cleanup: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(ROOT, 'tools/build/bundle.mjs'), 'lambda'], { cwd: ROOT, stdio: 'pipe' });
    // Run copies from outside the repository: a bundle must not need node_modules.
    bundleDir = mkdtempSync(path.join(tmpdir(), 'marvain-lambda-'));
    cleanup.push(() => rmSync(bundleDir, { recursive: true, force: true }));
    for (const entry of ENTRIES) {
      cpSync(path.join(ROOT, 'dist/lambda', entry), path.join(bundleDir, entry), { recursive: true });
    }

    database = await createBundleDatabase();
    cleanup.push(() => database.close());
    const config = testHubConfig();
    const app = await createHubApp(config, { databaseHandle: database.handle });
    creds = await app.get(BootstrapService).bootstrap({ agentName: 'Forge', spaceName: 'home' });
    // The AWS ws test's own agent and device, so that its connections' presence and stream
    // entries leave the other tests' agent alone.
    wsCreds = await app.get(BootstrapService).bootstrap({ agentName: 'Relay', spaceName: 'hall' });
    // Committed changes on the agent's stream for the ws bundle to replay: three a device hears
    // (actions.updated, it holds actions:read) around one it does not (events.new).
    const streams = app.get(StreamRepository, { strict: false });
    streamSeqs = [];
    for (const topic of ['actions.updated', 'actions.updated', 'events.new', 'actions.updated'] as const) {
      const entry = await streams.append(
        { agent_id: wsCreds.agent_id, topic, space_id: wsCreds.space_id, data: { n: streamSeqs.length } },
        database.handle.db,
      );
      streamSeqs.push(entry.seq);
    }
    await app.close();
    fakeAws = await FakeAws.start(CONNECTIONS_SCHEMA);
    cleanup.push(() => fakeAws.close());
    fakeAws.secrets.set(
      LIVEKIT_SECRET,
      JSON.stringify({ url: SECRET_LIVEKIT_URL, api_key: TEST_LIVEKIT.apiKey, api_secret: TEST_LIVEKIT.apiSecret }),
    );

    // The local runtime's adapters (queue table, audit files, in-memory connections) on the shared
    // database and data folder: everything but AWS. Migrations are already applied.
    const common: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      // The SDK signs every request; the local Data API endpoint accepts any credentials.
      ...FAKE_AWS_ENV,
      ...database.env,
    };
    const env: NodeJS.ProcessEnv = {
      ...common,
      MARVAIN_RUNTIME: 'local',
      MARVAIN_DATA_DIR: config.dataDir,
      MARVAIN_CONFIG: config.configFile,
      MARVAIN_MIGRATIONS_DIR: path.join(ROOT, 'migrations'),
      MARVAIN_LOG_LEVEL: 'warn',
      LIVEKIT_URL: TEST_LIVEKIT.url,
      LIVEKIT_API_KEY: TEST_LIVEKIT.apiKey,
      LIVEKIT_API_SECRET: TEST_LIVEKIT.apiSecret,
    };
    // The AWS adapters are only constructed: the GET requests below touch nothing but the database.
    // Without MARVAIN_MIGRATIONS_DIR a start-up migration would fail (no migrations folder beside the bundle).
    const awsEnv: NodeJS.ProcessEnv = {
      ...common,
      MARVAIN_RUNTIME: 'aws',
      MARVAIN_LOG_LEVEL: 'warn',
      MARVAIN_TRANSCRIPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
      MARVAIN_ACTION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
      MARVAIN_AUDIT_BUCKET: 'marvain-audit-123456789012',
      MARVAIN_CONNECTIONS_TABLE: 'marvain-connections',
      MARVAIN_WS_ENDPOINT: 'https://w7c4n1m8zd.execute-api.eu-west-1.amazonaws.com/prod',
      MARVAIN_COGNITO_USER_POOL_ID: 'eu-west-1_Marvain01',
      MARVAIN_COGNITO_CLIENT_ID: '4s5marvainlambdatestclient',
    };
    const start = async (entry: string, entryEnv: NodeJS.ProcessEnv): Promise<LambdaContainer> => {
      const container = await LambdaContainer.start(path.join(bundleDir, entry, 'index.js'), entryEnv, bundleDir);
      cleanup.push(() => container.stop());
      return container;
    };
    await Promise.all([
      // LiveKit from the stack's secret, read from the stand-in at the container's first request.
      start('http', {
        ...awsEnv,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: fakeAws.endpoint,
        NODE_EXTRA_CA_CERTS: fakeAws.env['NODE_EXTRA_CA_CERTS'],
        LIVEKIT_SECRET_ARN: LIVEKIT_SECRET,
      }).then((container) => (awsHttp = container)),
      start('ws', {
        ...awsEnv,
        ...fakeAws.env,
        MARVAIN_WS_ENDPOINT: fakeAws.websocketEndpoint,
        // The SQS client sends to the queue URL's host.
        MARVAIN_TRANSCRIPT_QUEUE_URL: `${fakeAws.endpoint}/123456789012/marvain-transcripts`,
        MARVAIN_ACTION_QUEUE_URL: `${fakeAws.endpoint}/123456789012/marvain-actions`,
      }).then((container) => (awsWs = container)),
      ...ENTRIES.map((entry) => start(entry, env).then((container) => (containers[entry] = container))),
    ]);
    // Its application starts now, while every audit entry is already copied to the sink: a start
    // copies the ones that are not (to S3 on AWS, which this test does not have).
    awsFirstHealth = await awsHttp.invoke<APIGatewayProxyResult>(restEvent('GET', '/v1/health'));
  }, 120_000);

  afterAll(async () => {
    for (const undo of cleanup.reverse()) {
      await undo();
    }
  });

  it.each(ENTRIES)('%s is a CommonJS bundle of at most 5 MiB that exports handler and carries no PGlite', (entry) => {
    const file = path.join(ROOT, 'dist/lambda', entry, 'index.js');
    expect(statSync(file).size).toBeLessThanOrEqual(FIVE_MIB);
    const source = readFileSync(file, 'utf8');
    expect(source).not.toMatch(/pglite\.wasm|postgres\.wasm/);
    expect(typeof containers[entry].loadMs).toBe('number');
  });

  it('http answers GET /v1/health, an authenticated list, and refuses the list without credentials', async () => {
    const http = containers.http;
    const health = await http.invoke<APIGatewayProxyResult>(restEvent('GET', '/v1/health'));
    expect(health.statusCode).toBe(200);
    expect(json(health)).toMatchObject({
      status: 'ok',
      runtime: 'local',
      database: { kind: database.kind, schema_version: SCHEMA_VERSION },
    });

    const list = await http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}`, { token: creds.user_token }),
    );
    expect(list.statusCode).toBe(200);
    expect(json(list)).toEqual({ actions: [], next_cursor: null });

    const refused = await http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}`),
    );
    expect(refused.statusCode).toBe(401);
    expect(json(refused)).toMatchObject({ error: { code: 'unauthenticated' } });

    // Nest's validation (decorator metadata survived the bundling): an unknown status is a 400.
    const invalid = await http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}&status=nonsense`, { token: creds.user_token }),
    );
    expect(invalid.statusCode).toBe(400);
    expect(json(invalid)).toMatchObject({ error: { code: 'validation_failed' } });
  });

  it('http takes a signed LiveKit webhook through API Gateway byte for byte, and refuses a tampered one', async () => {
    const http = containers.http;
    const room = `marvain-${creds.agent_id}-${creds.space_id}`;
    // Non-ASCII text: the signature covers the exact UTF-8 bytes, which must reach the hub unchanged.
    const body = webhookBody('participant_joined', room, `device:${creds.device_id}`, { note: 'Zoë 🎙 in the kitchen' });
    const headers = await webhookHeaders(body);
    const tampered = await http.invoke<APIGatewayProxyResult>(
      restEvent('POST', '/v1/livekit/webhook', { rawBody: body.replace('Zoë', 'Zoe'), headers }),
    );
    expect(tampered.statusCode).toBe(401);
    expect(json(tampered)).toMatchObject({ error: { code: 'webhook_signature_invalid' } });

    const accepted = await http.invoke<APIGatewayProxyResult>(
      restEvent('POST', '/v1/livekit/webhook', { rawBody: body, headers }),
    );
    expect(accepted.statusCode).toBe(200);
    expect(json(accepted)).toEqual({ received: true, event: 'participant_joined', applied: true });
    const presence = await http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/spaces/${creds.space_id}/presence`, { token: creds.user_token }),
    );
    expect(json(presence).presence).toContainEqual(
      expect.objectContaining({ subject_type: 'device', subject_id: creds.device_id, status: 'online' }),
    );
    // And out again: the room no longer holds its row, so maintenance may sweep it (below).
    const leftBody = webhookBody('participant_left', room, `device:${creds.device_id}`);
    const left = await http.invoke<APIGatewayProxyResult>(
      restEvent('POST', '/v1/livekit/webhook', { rawBody: leftBody, headers: await webhookHeaders(leftBody) }),
    );
    expect(json(left)).toEqual({ received: true, event: 'participant_left', applied: true });

    const token = await http.invoke<APIGatewayProxyResult>(
      restEvent('POST', `/v1/spaces/${creds.space_id}/livekit-token`, { token: creds.user_token }),
    );
    expect(token.statusCode).toBe(200);
    expect(json(token)).toMatchObject({ url: TEST_LIVEKIT.url, room, identity: `user:${creds.user_id}` });
  });

  it('http serves the satellite daemon from the copy beside its code', async () => {
    const served = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('GET', '/v1/satellite/marvain-satellite.cjs'),
    );
    expect(served.statusCode).toBe(200);
    const body = Buffer.from(served.body, served.isBase64Encoded ? 'base64' : 'utf8');
    expect(body.equals(readFileSync(path.join(bundleDir, 'http', 'satellite', 'marvain-satellite.cjs')))).toBe(true);
  });

  it('http in the AWS runtime serves from the already migrated database without migrating', async () => {
    expect(awsFirstHealth.statusCode).toBe(200);
    expect(json(awsFirstHealth)).toMatchObject({
      status: 'ok',
      runtime: 'aws',
      database: { kind: database.kind, schema_version: SCHEMA_VERSION },
    });
    const list = await awsHttp.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}`, { token: creds.device_token }),
    );
    expect(list.statusCode).toBe(200);
    expect(json(list)).toMatchObject({ actions: expect.any(Array) });
    // The scope guard runs as it does locally: a device holds no memories:read.
    const forbidden = await awsHttp.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/memories?agent_id=${creds.agent_id}`, { token: creds.device_token }),
    );
    expect(forbidden.statusCode).toBe(403);
  });

  it('http in the AWS runtime reads the LiveKit secret once, at its cold start, and mints tokens with its settings', async () => {
    expect(json(awsFirstHealth)).toMatchObject({ livekit: 'configured' });
    // A device that may join (users sign in with Cognito on AWS), added through the local http bundle.
    const added = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('POST', `/v1/agents/${creds.agent_id}/devices`, {
        token: creds.user_token,
        body: { name: 'room speaker', scopes: ['livekit:join'], capabilities: { microphone: true } },
      }),
    );
    expect(added.statusCode).toBe(201);
    const speaker = { device_id: json(added).device.device_id as string, token: json(added).token as string };
    const reply = await awsHttp.invoke<APIGatewayProxyResult>(
      restEvent('POST', `/v1/spaces/${creds.space_id}/livekit-token`, { token: speaker.token }),
    );
    expect(reply.statusCode).toBe(200);
    const room = `marvain-${creds.agent_id}-${creds.space_id}`;
    expect(json(reply)).toMatchObject({ url: SECRET_LIVEKIT_URL, room, identity: `device:${speaker.device_id}` });
    const claims = await new TokenVerifier(TEST_LIVEKIT.apiKey, TEST_LIVEKIT.apiSecret).verify(json(reply).token);
    expect(claims).toMatchObject({
      sub: `device:${speaker.device_id}`,
      video: { room, roomJoin: true, canPublish: true },
    });
    expect(fakeAws.secretReads).toEqual([{ SecretId: LIVEKIT_SECRET }]);
  });

  it('ws (AWS runtime) authenticates $connect, keeps connections in DynamoDB, answers frames as route responses and $disconnect', async () => {
    const reply = async (connectionId: string, body: unknown): Promise<any> => {
      const result = await awsWs.invoke<WebSocketResult>(messageEvent(connectionId, body));
      expect(result.statusCode).toBe(200);
      return result.body === undefined ? undefined : JSON.parse(result.body);
    };
    const items = () => fakeAws.items(CONNECTIONS_TABLE);

    expect((await awsWs.invoke<WebSocketResult>(connectEvent('conn-anon'))).statusCode).toBe(401);
    expect(
      (await awsWs.invoke<WebSocketResult>(connectEvent('conn-bad', { query: 'mvd_not-a-real-token' }))).statusCode,
    ).toBe(401);
    expect(items()).toEqual([]);

    expect(await awsWs.invoke<WebSocketResult>(connectEvent('Aws1conn=', { query: wsCreds.device_token }))).toEqual({
      statusCode: 200,
    });
    expect(items()).toEqual([
      expect.objectContaining({
        connection_id: 'Aws1conn=',
        item_id: 'connection',
        principal_key: `device#${wsCreds.device_id}`,
        agent_ids: [wsCreds.agent_id],
      }),
    ]);
    expect(await reply('Aws1conn=', { type: 'ping', id: 'p1' })).toEqual({
      type: 'pong',
      id: 'p1',
      ts: expect.any(String),
    });
    expect(await reply('Aws1conn=', { type: 'hello', id: 'h1', token: wsCreds.device_token })).toMatchObject({
      type: 'hello_ok',
      id: 'h1',
      principal: { type: 'device', id: wsCreds.device_id, agent_ids: [wsCreds.agent_id] },
    });
    expect(await reply('Aws1conn=', 'not json')).toMatchObject({ type: 'error', error: { code: 'validation_failed' } });
    expect(fakeAws.posted).toEqual([]);

    // subscribe with from_seq: the reply, then the replay, pushed in order through the Management
    // API (only what the device hears: actions.updated); the route response is empty.
    expect(
      await reply('Aws1conn=', {
        type: 'subscribe',
        id: 's1',
        agent_id: wsCreds.agent_id,
        topics: ['actions.updated'],
        from_seq: streamSeqs[0],
      }),
    ).toBeUndefined();
    const heard = streamSeqs.filter((_, index) => index !== 2);
    // The head when it subscribed: the set-up entries, and whatever else committed since ($connect's presence).
    const head = fakeAws.posted[0]?.data['last_seq'] as number;
    expect(head).toBeGreaterThanOrEqual(streamSeqs.at(-1)!);
    expect(fakeAws.posted).toEqual([
      {
        connectionId: 'Aws1conn=',
        data: {
          type: 'subscribed',
          id: 's1',
          agent_id: wsCreds.agent_id,
          space_id: null,
          topics: ['actions.updated'],
          last_seq: head,
        },
      },
      ...heard.map((seq) => ({
        connectionId: 'Aws1conn=',
        data: expect.objectContaining({ type: 'stream', seq, agent_id: wsCreds.agent_id, topic: 'actions.updated' }),
      })),
    ]);
    // Stored for fan-out, with the replayed seqs left to the replay.
    expect(items()).toContainEqual(
      expect.objectContaining({
        connection_id: 'Aws1conn=',
        item_id: `subscription#${wsCreds.agent_id}`,
        agent_id: wsCreds.agent_id,
        topics: ['actions.updated'],
        live_after: head,
      }),
    );
    expect(await reply('Aws1conn=', { type: 'unsubscribe', id: 'u1', agent_id: wsCreds.agent_id })).toEqual({
      type: 'unsubscribed',
      id: 'u1',
      agent_id: wsCreds.agent_id,
    });
    expect(items().map((item) => item['item_id'])).toEqual(['connection']);
    // Without from_seq nothing is replayed, so the reply stays the route response.
    expect(
      await reply('Aws1conn=', {
        type: 'subscribe',
        id: 's2',
        agent_id: wsCreds.agent_id,
        topics: ['actions.updated'],
      }),
    ).toMatchObject({ type: 'subscribed', id: 's2', last_seq: head });
    expect(fakeAws.posted).toHaveLength(1 + heard.length);

    // The other verbs answer through the same gateway, as the route response.
    expect(
      await reply('Aws1conn=', {
        type: 'send_event',
        id: 'e1',
        event: { space_id: wsCreds.space_id, type: 'transcript_chunk', payload: { text: 'the lights are on' } },
      }),
    ).toEqual({ type: 'event_ack', id: 'e1', event_id: expect.any(String), stored: true, duplicate: false });
    expect(
      await reply('Aws1conn=', { type: 'push_transcript', id: 't1', space_id: wsCreds.space_id, text: 'and warm' }),
    ).toMatchObject({ type: 'event_ack', id: 't1', stored: true, duplicate: false });
    // Both transcripts went to the transcript queue (the planner's input).
    expect(fakeAws.sent.map((message) => message.QueueUrl)).toEqual([
      `${fakeAws.endpoint}/123456789012/marvain-transcripts`,
      `${fakeAws.endpoint}/123456789012/marvain-transcripts`,
    ]);
    expect(await reply('Aws1conn=', { type: 'list_actions', id: 'l1', agent_id: wsCreds.agent_id })).toEqual({
      type: 'actions',
      id: 'l1',
      actions: [],
      next_cursor: null,
    });
    // A device holds no actions:approve.
    for (const type of ['approve_action', 'reject_action']) {
      expect(await reply('Aws1conn=', { type, id: 'x1', action_id: randomUUID() })).toMatchObject({
        type: 'error',
        id: 'x1',
        error: { code: 'forbidden' },
      });
    }
    expect(await reply('Aws1conn=', { type: 'heartbeat', id: 'b1', space_id: wsCreds.space_id })).toMatchObject({
      type: 'heartbeat_ok',
      id: 'b1',
    });
    // Presence is read with spaces:read, which a device does not hold.
    expect(
      await reply('Aws1conn=', { type: 'subscribe_presence', id: 'sp1', agent_id: wsCreds.agent_id }),
    ).toMatchObject({ type: 'error', id: 'sp1', error: { code: 'forbidden' } });

    // The Authorization header works as well as the query string.
    expect(await awsWs.invoke<WebSocketResult>(connectEvent('Aws2conn=', { header: wsCreds.device_token }))).toEqual({
      statusCode: 200,
    });

    // $disconnect removes every item of the connection.
    expect(await awsWs.invoke<WebSocketResult>(disconnectEvent('Aws1conn='))).toEqual({ statusCode: 200 });
    expect(await awsWs.invoke<WebSocketResult>(disconnectEvent('Aws2conn='))).toEqual({ statusCode: 200 });
    expect(items()).toEqual([]);
  });

  it("ws (AWS runtime) pushes a device's pending command after its hello_ok and records its cmd.result", async () => {
    const reply = async (connectionId: string, body: unknown): Promise<any> => {
      const result = await awsWs.invoke<WebSocketResult>(messageEvent(connectionId, body));
      expect(result.statusCode).toBe(200);
      return result.body === undefined ? undefined : JSON.parse(result.body);
    };
    // Created while the device is away (the local http bundle: no connection of it anywhere).
    const created = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('POST', `/v1/devices/${wsCreds.device_id}/commands`, {
        token: wsCreds.user_token,
        body: { kind: 'run_action', args: { name: 'uptime' } },
      }),
    );
    expect(created.statusCode).toBe(201);
    const command = json(created);
    expect(command).toMatchObject({ status: 'queued' });

    expect(await awsWs.invoke<WebSocketResult>(connectEvent('Cmd1conn=', { query: wsCreds.device_token }))).toEqual({
      statusCode: 200,
    });
    const before = fakeAws.posted.length;
    // The hello_ok is pushed first, then the command: the route response is empty.
    expect(await reply('Cmd1conn=', { type: 'hello', id: 'h1', token: wsCreds.device_token })).toBeUndefined();
    expect(fakeAws.posted.slice(before)).toEqual([
      { connectionId: 'Cmd1conn=', data: expect.objectContaining({ type: 'hello_ok', id: 'h1' }) },
      {
        connectionId: 'Cmd1conn=',
        data: {
          type: 'cmd.run_action',
          command_id: command.command_id,
          issued_at: command.created_at,
          expires_at: command.expires_at,
          args: { name: 'uptime' },
        },
      },
    ]);
    expect(
      await reply('Cmd1conn=', {
        type: 'cmd.result',
        id: 'r1',
        command_id: command.command_id,
        ok: true,
        result: { exit_code: 0, stdout: 'up' },
      }),
    ).toEqual({
      type: 'cmd.result_ok',
      id: 'r1',
      command_id: command.command_id,
      status: 'succeeded',
      duplicate: false,
    });
    const read = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/devices/${wsCreds.device_id}/commands/${command.command_id}`, {
        token: wsCreds.user_token,
      }),
    );
    expect(json(read)).toMatchObject({ status: 'succeeded', result: { exit_code: 0, stdout: 'up' } });
    // With nothing pending, the next hello is the route response again.
    expect(await reply('Cmd1conn=', { type: 'hello', id: 'h2', token: wsCreds.device_token })).toMatchObject({
      type: 'hello_ok',
      id: 'h2',
    });
    expect(await awsWs.invoke<WebSocketResult>(disconnectEvent('Cmd1conn='))).toEqual({ statusCode: 200 });
  });

  it('planner and tool-runner handle SQS batches record by record, reporting only transient failures', async () => {
    const http = containers.http;
    const ingest = await http.invoke<APIGatewayProxyResult>(
      restEvent('POST', '/v1/events', {
        token: creds.device_token,
        body: { space_id: creds.space_id, type: 'transcript_chunk', payload: { text: 'tell Sam the package arrived' } },
      }),
    );
    expect(ingest.statusCode).toBe(202);
    const eventId: string = json(ingest).event_id;

    // good: a stored event; transient: an event not visible yet (retried); poison: not JSON (recorded, acknowledged).
    const planBatch = sqsEvent('marvain-transcripts', [
      { body: { event_id: eventId, agent_id: creds.agent_id } },
      { body: { event_id: randomUUID(), agent_id: creds.agent_id }, receiveCount: 2 },
      { body: 'not json' },
    ]);
    const planned = await containers.planner.invoke<SQSBatchResponse>(planBatch);
    expect(planned).toEqual({ batchItemFailures: [{ itemIdentifier: planBatch.Records[1]?.messageId }] });
    expect(await containers.planner.waitForLog(/dead-lettered as poison/)).toContain(planBatch.Records[2]?.messageId);

    const proposed = await http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/actions?agent_id=${creds.agent_id}&status=proposed`, { token: creds.user_token }),
    );
    const [action] = json(proposed).actions;
    expect(action).toMatchObject({
      kind: 'send_message',
      status: 'proposed',
      payload: { to: 'Sam', text: 'the package arrived' },
    });
    const approved = await http.invoke<APIGatewayProxyResult>(
      restEvent('POST', `/v1/actions/${action.action_id}/approve`, { token: creds.user_token }),
    );
    expect(approved.statusCode).toBe(200);

    // good: the approved action; transient: an action not visible yet; poison: no action id.
    const runBatch = sqsEvent('marvain-actions', [
      { body: { action_id: action.action_id, agent_id: creds.agent_id } },
      { body: { action_id: randomUUID(), agent_id: creds.agent_id } },
      { body: { agent_id: creds.agent_id } },
    ]);
    expect(await containers['tool-runner'].invoke<SQSBatchResponse>(runBatch)).toEqual({
      batchItemFailures: [{ itemIdentifier: runBatch.Records[1]?.messageId }],
    });
    const executed = await http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/actions/${action.action_id}`, { token: creds.user_token }),
    );
    expect(json(executed)).toMatchObject({ status: 'executed', result: { to: 'Sam' } });

    // A redelivery of the handled record changes nothing and is not reported.
    expect(
      await containers.planner.invoke<SQSBatchResponse>(
        sqsEvent('marvain-transcripts', [{ body: { event_id: eventId, agent_id: creds.agent_id }, receiveCount: 2 }]),
      ),
    ).toEqual({
      batchItemFailures: [],
    });
  });

  it('maintenance, on its schedule, takes a silent device offline (a streamed transition), prunes old stream entries and expires commands', async () => {
    const beat = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('POST', '/v1/devices/heartbeat', { token: creds.device_token, body: { space_id: creds.space_id } }),
    );
    expect(beat.statusCode).toBe(200);
    // A command for the device that it never collects, past its expiry.
    const command = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('POST', `/v1/devices/${creds.device_id}/commands`, { token: creds.user_token, body: { kind: 'ping' } }),
    );
    expect(command.statusCode).toBe(201);
    await sql`UPDATE device_commands SET expires_at = now() - interval '1 second'
              WHERE command_id = ${json(command).command_id as string}::uuid`.execute(database.handle.db);

    // The device falls silent past the missed-heartbeat window, and its first entry is older than the retention.
    await sql`UPDATE presence SET last_seen = now() - interval '10 minutes' WHERE subject_id = ${creds.device_id}::uuid`.execute(
      database.handle.db,
    );
    await sql`UPDATE agent_stream SET created_at = now() - interval '30 days' WHERE agent_id = ${creds.agent_id}::uuid`.execute(
      database.handle.db,
    );

    const result = await containers.maintenance.invoke<MaintenanceResult>(scheduledEvent());
    expect(result.swept).toBeGreaterThanOrEqual(1);
    expect(result.pruned).toBeGreaterThanOrEqual(1);
    expect(result.commands_expired).toBe(1);
    const expired = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/devices/${creds.device_id}/commands/${json(command).command_id as string}`, {
        token: creds.user_token,
      }),
    );
    expect(json(expired)).toMatchObject({ status: 'expired', error: { code: 'device_offline' } });

    const presence = await containers.http.invoke<APIGatewayProxyResult>(
      restEvent('GET', `/v1/spaces/${creds.space_id}/presence`, { token: creds.user_token }),
    );
    expect(json(presence).presence).toEqual([
      expect.objectContaining({ subject_id: creds.device_id, space_id: creds.space_id, status: 'offline' }),
    ]);
    // Only the newest entries are left of the agent's stream: the offline transition, then the command's expiry.
    const left = await sql<{ topic: string; data: unknown }>`
      SELECT topic, data FROM agent_stream WHERE agent_id = ${creds.agent_id}::uuid ORDER BY seq`.execute(
      database.handle.db,
    );
    expect(
      left.rows.map((row) => [row.topic, (typeof row.data === 'string' ? JSON.parse(row.data) : row.data).status]),
    ).toEqual([
      ['presence.updated', 'offline'],
      ['commands.updated', 'expired'],
    ]);
  });
});
