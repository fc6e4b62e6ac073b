import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { loadMigrations } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { eventually, testHubConfig } from '@marvain/platform/testing';
import { LocalWebSocketServer } from '@marvain/realtime';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

describe(`the thin path over real HTTP (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let creds: BootstrapResult;

  const call = (...args: Parameters<HubTestServer['call']>) => hub.call(...args);

  beforeAll(async () => {
    hub = await openHubTestServer({
      config: testHubConfig({
        workers: true,
        queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 100 },
      }),
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
    creds = await hub.bootstrap();
  });

  afterAll(async () => {
    await hub.app.get(LocalWebSocketServer).close();
    await hub.close();
  });

  it('reports health, runtime, database, schema version and vector availability without credentials', async () => {
    const { status, json } = await call('GET', '/v1/health', null);
    expect(status).toBe(200);
    expect(json).toMatchObject({
      status: 'ok',
      runtime: 'local',
      database: { kind: testDatabaseKind(), schema_version: loadMigrations().at(-1)?.version },
      livekit: 'not_configured',
    });
    expect(typeof json.database.vector).toBe('boolean');
  });

  it('serves the OpenAPI document with the thin-path routes', async () => {
    const { status, json } = await call('GET', '/openapi.json', null);
    expect(status).toBe(200);
    expect(Object.keys(json.paths)).toEqual(
      expect.arrayContaining([
        '/v1/events',
        '/v1/memories',
        '/v1/actions',
        '/v1/actions/{id}/approve',
        '/v1/audit/verify',
      ]),
    );
  });

  it('takes a transcript in, plans it, proposes, approves, executes and audits it', async () => {
    const ingest = await call('POST', '/v1/events', creds.device_token, {
      space_id: creds.space_id,
      type: 'transcript_chunk',
      payload: { text: 'tell Sam the package arrived' },
      client_event_id: 'chunk-1',
    });
    expect(ingest.status).toBe(202);
    const eventId: string = ingest.json.event_id;
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);

    const again = await call('POST', '/v1/events', creds.device_token, {
      space_id: creds.space_id,
      type: 'transcript_chunk',
      payload: { text: 'tell Sam the package arrived' },
      client_event_id: 'chunk-1',
    });
    expect(again).toMatchObject({ status: 202, json: { event_id: eventId, duplicate: true } });

    const memories = await eventually(async () => {
      const { json } = await call('GET', `/v1/memories?agent_id=${creds.agent_id}`, creds.user_token);
      return json.memories.length > 0 ? json.memories : undefined;
    }, 'the episodic memory');
    expect(memories).toHaveLength(1);
    expect(memories[0]).toMatchObject({
      tier: 'episodic',
      content: 'tell Sam the package arrived',
      source_event_id: eventId,
    });
    expect(JSON.stringify(memories)).not.toContain('embedding');

    const proposed = await call('GET', `/v1/actions?agent_id=${creds.agent_id}&status=proposed`, creds.user_token);
    expect(proposed.json.actions).toHaveLength(1);
    const action = proposed.json.actions[0];
    expect(action).toMatchObject({
      kind: 'send_message',
      status: 'proposed',
      payload: { to: 'Sam', text: 'the package arrived' },
    });

    // A device may not approve; the owner may.
    expect((await call('POST', `/v1/actions/${action.action_id}/approve`, creds.device_token)).status).toBe(403);
    const approved = await call('POST', `/v1/actions/${action.action_id}/approve`, creds.user_token);
    expect(approved).toMatchObject({ status: 200, json: { status: 'approved', approved_by: creds.user_id } });

    const executed = await eventually(async () => {
      const { json } = await call('GET', `/v1/actions/${action.action_id}`, creds.user_token);
      return json.status === 'executed' ? json : undefined;
    }, 'the action to execute');
    expect(executed.result).toMatchObject({ to: 'Sam', message_event_id: expect.any(String) });

    const late = await call('POST', `/v1/actions/${action.action_id}/reject`, creds.user_token);
    expect(late).toMatchObject({ status: 409, json: { error: { code: 'action_invalid_transition' } } });

    const verify = await call('GET', `/v1/audit/verify?agent_id=${creds.agent_id}`, creds.user_token);
    expect(verify.json).toMatchObject({ ok: true });
    const actions = await Promise.all(
      Array.from({ length: verify.json.entries }, async (_, i) => {
        const file = path.join(
          hub.config.auditDir,
          'chains',
          creds.agent_id,
          `${String(i + 1).padStart(12, '0')}.json`,
        );
        return (JSON.parse(await readFile(file, 'utf8')) as { action: string }).action;
      }),
    );
    expect(actions).toEqual([
      'bootstrap.completed',
      'device.registered',
      'event.ingested',
      'action.proposed',
      'planner.completed',
      'action.approved',
      'action.executing',
      'action.executed',
    ]);
  });

  it('rejects a proposed action, and refuses to approve it afterwards', async () => {
    await call('POST', '/v1/events', creds.device_token, {
      space_id: creds.space_id,
      type: 'transcript_chunk',
      payload: { text: 'tell Ada the door is open' },
    });
    const action = await eventually(async () => {
      const { json } = await call('GET', `/v1/actions?agent_id=${creds.agent_id}&status=proposed`, creds.user_token);
      return json.actions[0];
    }, 'a proposed action');
    const rejected = await call('POST', `/v1/actions/${action.action_id}/reject`, creds.user_token, {
      reason: 'not now',
    });
    expect(rejected).toMatchObject({ status: 200, json: { status: 'rejected', rejected_by: creds.user_id } });
    expect((await call('POST', `/v1/actions/${action.action_id}/approve`, creds.user_token)).status).toBe(409);
  });

  it('answers bad input with 400 and a stable code, and missing credentials with 401, never 500', async () => {
    const cases: Array<[string, string, string | null, unknown, number, string]> = [
      [
        'POST',
        '/v1/events',
        creds.device_token,
        { space_id: 'not-a-uuid', type: 'x', payload: {} },
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/events',
        creds.device_token,
        { space_id: creds.space_id, type: 'transcript_chunk', payload: {} },
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/events',
        creds.device_token,
        { space_id: creds.space_id, type: 'x', payload: {}, surprise: 1 },
        400,
        'validation_failed',
      ],
      ['POST', '/v1/events', creds.device_token, '{"truncated', 400, 'validation_failed'],
      [
        'POST',
        '/v1/events',
        creds.device_token,
        { space_id: creds.space_id, type: 'x', payload: { text: 'x'.repeat(300_000) } },
        413,
        'payload_too_large',
      ],
      // Small, but nested 40 000 deep: refused by the parser, never a stack overflow (500).
      [
        'POST',
        '/v1/events',
        creds.device_token,
        `{"space_id":"${creds.space_id}","type":"x","payload":${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}}`,
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/events',
        creds.device_token,
        '{"__proto__":{"polluted":true},"space_id":"x"}',
        400,
        'validation_failed',
      ],
      ['POST', '/v1/events', null, { space_id: creds.space_id, type: 'x', payload: {} }, 401, 'unauthenticated'],
      [
        'POST',
        '/v1/events',
        'mvd_forged',
        { space_id: creds.space_id, type: 'x', payload: {} },
        401,
        'unauthenticated',
      ],
      ['GET', '/v1/actions/not-a-uuid', creds.user_token, undefined, 400, 'validation_failed'],
      [
        'GET',
        `/v1/actions?agent_id=${creds.agent_id}&status=done`,
        creds.user_token,
        undefined,
        400,
        'validation_failed',
      ],
      [
        'GET',
        '/v1/memories?agent_id=00000000-0000-4000-8000-000000000000',
        creds.user_token,
        undefined,
        404,
        'not_found',
      ],
      [
        'POST',
        '/v1/events',
        creds.device_token,
        { space_id: '00000000-0000-4000-8000-000000000000', type: 'x', payload: {} },
        404,
        'not_found',
      ],
    ];
    for (const [method, url, token, body, status, code] of cases) {
      const response = await call(method, url, token, body);
      expect({ url, status: response.status, code: response.json?.error?.code }).toEqual({ url, status, code });
    }
  });

  it('speaks hello and ping over the WebSocket on the same port', async () => {
    const ws = new WebSocket(`${hub.base.replace('http', 'ws')}/v1/ws`);
    const replies: any[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    const next = (): Promise<any> =>
      new Promise((resolve) => ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString('utf8')))));
    ws.send(JSON.stringify({ type: 'hello', id: '1', token: 'mvd_nope' }));
    replies.push(await next());
    ws.send(JSON.stringify({ type: 'hello', id: '2', token: creds.device_token }));
    replies.push(await next());
    ws.send(JSON.stringify({ type: 'ping', id: '3' }));
    replies.push(await next());
    ws.send('not json');
    replies.push(await next());
    ws.close();
    expect(replies[0]).toMatchObject({ type: 'error', id: '1', error: { code: 'unauthenticated' } });
    expect(replies[1]).toMatchObject({
      type: 'hello_ok',
      id: '2',
      principal: { type: 'device', id: creds.device_id, agent_ids: [creds.agent_id] },
    });
    expect(replies[2]).toMatchObject({ type: 'pong', id: '3' });
    expect(replies[3]).toMatchObject({ type: 'error', error: { code: 'validation_failed' } });
  });

  it('detects an altered audit entry and names the first bad sequence number', async () => {
    const file = path.join(hub.config.auditDir, 'chains', creds.agent_id, `${String(3).padStart(12, '0')}.json`);
    const original = await readFile(file, 'utf8');
    await chmod(file, 0o644);
    await writeFile(file, original.replace('"event.ingested"', '"event.deleted"'));
    const verify = await call('GET', `/v1/audit/verify?agent_id=${creds.agent_id}`, creds.user_token);
    expect(verify.json).toMatchObject({ ok: false, first_bad_seq: 3 });
    await writeFile(file, original);
    expect((await call('GET', `/v1/audit/verify?agent_id=${creds.agent_id}`, creds.user_token)).json.ok).toBe(true);
  });
});
