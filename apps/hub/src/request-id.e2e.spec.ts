import type { BootstrapResult } from '@marvain/identity';
import { eventually } from '@marvain/platform/testing';
import { BODY_LIMIT_BYTES } from './setup';
import { openLoggedHubTestServer, type HubTestServer } from './testing/hub-test-server';

jest.setTimeout(120_000);

type LogRecord = Record<string, unknown> & { msg: string; context?: string; request_id?: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids', () => {
  let hub: HubTestServer;
  let creds: BootstrapResult;
  const lines: string[] = [];
  const records = (): LogRecord[] => lines.map((line) => JSON.parse(line) as LogRecord);

  beforeAll(async () => {
    hub = await openLoggedHubTestServer('debug', lines);
    creds = await hub.bootstrap();
  });

  afterAll(() => hub.close());

  async function send(
    method: string,
    path: string,
    options: { requestId?: string; token?: string; body?: string } = {},
  ): Promise<{ status: number; requestId: string | null; json: Record<string, unknown> | null }> {
    const response = await fetch(`${hub.base}${path}`, {
      method,
      headers: {
        ...(options.requestId !== undefined ? { 'x-request-id': options.requestId } : {}),
        ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      requestId: response.headers.get('x-request-id'),
      json: text ? (JSON.parse(text) as Record<string, unknown>) : null,
    };
  }

  const requestLine = (requestId: string): LogRecord | undefined =>
    records().find((r) => r.context === 'HTTP' && r.request_id === requestId);

  it("echoes a caller's sane x-request-id and logs the request under it", async () => {
    const reply = await send('GET', '/v1/agents', { requestId: 'client-7f3a.retry~2', token: creds.user_token });
    expect(reply).toMatchObject({ status: 200, requestId: 'client-7f3a.retry~2' });
    await eventually(async () => requestLine('client-7f3a.retry~2'), 'the request line');
  });

  it('replaces an x-request-id that is too long or not a token with a generated one', async () => {
    for (const bad of ['two words', 'x'.repeat(129), 'quote"d']) {
      const reply = await send('GET', '/v1/health', { requestId: bad });
      expect(reply.status).toBe(200);
      expect(reply.requestId).toMatch(UUID);
    }
  });

  it('generates an id when none is given: in the header, the request line and the error body', async () => {
    const refused = await send('GET', '/v1/agents');
    expect(refused.status).toBe(401);
    expect(refused.requestId).toMatch(UUID);
    expect(refused.json).toMatchObject({ error: { code: 'unauthenticated' }, request_id: refused.requestId });
    const line = await eventually(async () => requestLine(refused.requestId ?? ''), 'the request line');
    expect(line).toMatchObject({ route: '/v1/agents', status: 401 });
  });

  it('carries the id in errors answered before any handler: unknown route, malformed path, bad JSON, too large', async () => {
    const replies = [
      await send('GET', '/v1/nowhere', { requestId: 'unknown-route' }),
      await send('GET', `/v1/actions/${'a'.repeat(120)}`, { requestId: 'long-param', token: creds.user_token }),
      await send('POST', '/v1/events', { requestId: 'bad-json', token: creds.device_token, body: '{' }),
      await send('POST', '/v1/events', {
        requestId: 'too-large',
        token: creds.device_token,
        body: JSON.stringify({ text: 'x'.repeat(BODY_LIMIT_BYTES) }),
      }),
    ];
    expect(replies.map((r) => [r.status, r.requestId, r.json?.['request_id']])).toEqual([
      [404, 'unknown-route', 'unknown-route'],
      [400, 'long-param', 'long-param'],
      [400, 'bad-json', 'bad-json'],
      [413, 'too-large', 'too-large'],
    ]);
  });

  it("puts the id on a service's lines, and two concurrent requests never see each other's", async () => {
    for (const to of ['Sam', 'Ann']) {
      const ingest = await send('POST', '/v1/events', {
        token: creds.device_token,
        body: JSON.stringify({
          space_id: creds.space_id,
          type: 'transcript_chunk',
          payload: { text: `tell ${to} the package arrived` },
        }),
      });
      expect(ingest.status).toBe(202);
    }
    const proposed = await eventually(async () => {
      const reply = await send('GET', `/v1/actions?agent_id=${creds.agent_id}&status=proposed`, {
        token: creds.user_token,
      });
      const actions = (reply.json?.['actions'] ?? []) as Array<{ action_id: string }>;
      return actions.length === 2 ? actions.map((a) => a.action_id) : undefined;
    }, 'two proposed actions');

    const approvals = await Promise.all(
      proposed.map((actionId, i) =>
        send('POST', `/v1/actions/${actionId}/approve`, { requestId: `approve-${i}`, token: creds.user_token }),
      ),
    );
    expect(approvals.map((r) => [r.status, r.requestId])).toEqual([
      [200, 'approve-0'],
      [200, 'approve-1'],
    ]);
    const approved = records().filter((r) => r.context === 'Actions' && r.msg === 'action approved');
    expect(approved).toEqual(
      expect.arrayContaining(
        proposed.map((actionId, i) => expect.objectContaining({ action_id: actionId, request_id: `approve-${i}` })),
      ),
    );
    for (const [i, actionId] of proposed.entries()) {
      const ids = records()
        .filter((r) => r['action_id'] === actionId && r.request_id !== undefined)
        .map((r) => r.request_id);
      expect(new Set(ids)).toEqual(new Set([`approve-${i}`]));
    }
  });
});
