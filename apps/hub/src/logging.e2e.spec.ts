import type { BootstrapResult } from '@marvain/identity';
import { eventually } from '@marvain/platform/testing';
import { openLoggedHubTestServer, type HubTestServer } from './testing/hub-test-server';

jest.setTimeout(120_000);

type LogRecord = Record<string, unknown> & { level: number; msg: string; context?: string };

describe('what a hub logs at info', () => {
  let hub: HubTestServer;
  let creds: BootstrapResult;
  const lines: string[] = [];
  const records = (): LogRecord[] => lines.map((line) => JSON.parse(line) as LogRecord);

  beforeAll(async () => {
    hub = await openLoggedHubTestServer('info', lines);
    creds = await hub.bootstrap();
  });

  afterAll(() => hub.close());

  const FRAMEWORK = ['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication'];

  it('prints no framework start-up chatter at info, only JSON lines', async () => {
    expect((await hub.call('GET', '/v1/agents', null)).status).toBe(401);
    for (const line of lines) {
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
    expect(records()).toContainEqual(expect.objectContaining({ context: 'HTTP', route: '/v1/agents', status: 401 }));
    expect(records().filter((r) => FRAMEWORK.includes(r.context ?? ''))).toEqual([]);
  });

  it('logs one line per request, and one per planned event and action step', async () => {
    const ingest = await hub.call('POST', '/v1/events', creds.device_token, {
      space_id: creds.space_id,
      type: 'transcript_chunk',
      payload: { text: 'tell Sam the package arrived' },
    });
    expect(ingest.status).toBe(202);
    const eventId: string = ingest.json.event_id;
    const action = await eventually(async () => {
      const { json } = await hub.call(
        'GET',
        `/v1/actions?agent_id=${creds.agent_id}&status=proposed`,
        creds.user_token,
      );
      return json.actions[0] as { action_id: string } | undefined;
    }, 'a proposed action');
    expect((await hub.call('POST', `/v1/actions/${action.action_id}/approve`, creds.user_token)).status).toBe(200);
    await eventually(
      async () => (records().some((r) => r.msg === 'action executed') ? true : undefined),
      'the action to execute',
    );
    expect((await hub.call('GET', '/v1/agents', null)).status).toBe(401);

    const info = records().filter((r) => r.level === 30);
    expect(info).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          context: 'HTTP',
          msg: 'request',
          method: 'POST',
          route: '/v1/events',
          status: 202,
          principal: 'device',
          ms: expect.any(Number),
        }),
        expect.objectContaining({
          context: 'HTTP',
          msg: 'request',
          method: 'POST',
          route: '/v1/actions/:id/approve',
          status: 200,
          principal: 'user',
        }),
        expect.objectContaining({
          context: 'HTTP',
          msg: 'request',
          method: 'GET',
          route: '/v1/agents',
          status: 401,
          principal: 'anonymous',
        }),
        expect.objectContaining({
          context: 'Planner',
          msg: 'event planned',
          event_id: eventId,
          agent_id: creds.agent_id,
          memories: 1,
          actions: 1,
        }),
        expect.objectContaining({
          context: 'Actions',
          msg: 'action proposed',
          action_id: action.action_id,
          kind: 'send_message',
        }),
        expect.objectContaining({
          context: 'Actions',
          msg: 'action approved',
          action_id: action.action_id,
          by: 'user',
        }),
        expect.objectContaining({ context: 'ToolRunner', msg: 'action executed', action_id: action.action_id }),
      ]),
    );
    // The route pattern is logged, never the URL with its ids and query.
    expect(info.filter((r) => r.context === 'HTTP').map((r) => String(r['route']))).not.toEqual(
      expect.arrayContaining([expect.stringContaining('?')]),
    );
  });

  // Last: Nest's Logger is one per process, so a second hub takes over the lines of the first.
  it('keeps the framework lines for debug', async () => {
    const debugLines: string[] = [];
    const debugHub = await openLoggedHubTestServer('debug', debugLines);
    await debugHub.close();
    const framework = debugLines
      .map((line) => JSON.parse(line) as LogRecord)
      .filter((r) => FRAMEWORK.includes(r.context ?? ''));
    expect(framework.length).toBeGreaterThan(10);
    expect(new Set(framework.map((r) => r.level))).toEqual(new Set([20]));
  });
});
