import type { BootstrapResult } from '@marvain/identity';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';

/*
 * NUL and lone UTF-16 surrogates, sent to real resources (the bad-input sweep uses ids of
 * nothing, so most of its requests stop at a 404): PostgreSQL cannot store them, and the hub
 * answered 500 (or stored a lone surrogate). Each must be a 400 naming the field, with nothing
 * stored and the bad character never echoed.
 */
describe('NUL and lone surrogates in stored fields', () => {
  let hub: HubTestServer;
  let home: BootstrapResult;

  beforeAll(async () => {
    hub = await openHubTestServer();
    home = await hub.bootstrap('Forge', 'home');
  });

  afterAll(() => hub.close());

  const UNSAFE = [
    { label: 'a NUL', json: '\\u0000', escaped: '\\u0000' },
    { label: 'a lone high surrogate', json: '\\ud800', escaped: '\\ud800' },
    { label: 'a lone low surrogate', json: '\\udc00', escaped: '\\udc00' },
  ];

  /** Requests as raw JSON text, so the escapes are exactly what a client sends. */
  const cases = (): Array<{ what: string; method: string; path: string; token: string; body: string; field: string }> =>
    UNSAFE.flatMap(({ label, json, escaped }) => [
      {
        what: `event payload text with ${label}`,
        method: 'POST',
        path: '/v1/events',
        token: home.device_token,
        body: `{"space_id":"${home.space_id}","type":"transcript_chunk","payload":{"text":"hi ${json}"}}`,
        field: 'payload.text',
      },
      {
        what: `event payload key with ${label}`,
        method: 'POST',
        path: '/v1/events',
        token: home.device_token,
        body: `{"space_id":"${home.space_id}","type":"note","payload":{"k${json}":1}}`,
        field: `payload.k${escaped}`,
      },
      {
        what: `client_event_id with ${label}`,
        method: 'POST',
        path: '/v1/events',
        token: home.device_token,
        body: `{"space_id":"${home.space_id}","type":"note","payload":{},"client_event_id":"id-${json}"}`,
        field: 'client_event_id',
      },
      {
        what: `agent name with ${label}`,
        method: 'POST',
        path: '/v1/agents',
        token: home.user_token,
        body: `{"name":"Bot ${json}"}`,
        field: 'name',
      },
      {
        what: `agent rename with ${label}`,
        method: 'PATCH',
        path: `/v1/agents/${home.agent_id}`,
        token: home.user_token,
        body: `{"name":"Bot ${json}"}`,
        field: 'name',
      },
      {
        what: `device name with ${label}`,
        method: 'POST',
        path: `/v1/agents/${home.agent_id}/devices`,
        token: home.user_token,
        body: `{"name":"Phone ${json}"}`,
        field: 'name',
      },
      {
        what: `device metadata key with ${label}`,
        method: 'POST',
        path: `/v1/agents/${home.agent_id}/devices`,
        token: home.user_token,
        body: `{"name":"Phone","metadata":{"k${json}":"v"}}`,
        field: `metadata.k${escaped}`,
      },
      {
        what: `device capability key with ${label}`,
        method: 'POST',
        path: `/v1/agents/${home.agent_id}/devices`,
        token: home.user_token,
        body: `{"name":"Phone","capabilities":{"k${json}":true}}`,
        field: `capabilities.k${escaped}`,
      },
    ]);

  it('answers each with 400 validation_failed naming the field, without echoing the character', async () => {
    const failures: string[] = [];
    for (const c of cases()) {
      const reply = await hub.call(c.method, c.path, c.token, c.body);
      const fields = (reply.json?.error?.details?.fields ?? []) as Array<{ field: string }>;
      // Echoed would be the character itself, or its JSON escape (\u0000); the hub names it as the text "\\u0000".
      const echoed =
        reply.text.includes('\u0000') ||
        /[\ud800-\udfff]/.test(reply.text) ||
        /(?<!\\)\\u(?:0000|d[89a-f][0-9a-f]{2})/i.test(reply.text);
      if (
        reply.status !== 400 ||
        reply.json?.error?.code !== 'validation_failed' ||
        !fields.some((f) => f.field === c.field) ||
        echoed
      ) {
        failures.push(`${c.what}: ${reply.status} ${reply.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('stored none of them', async () => {
    const agents = (await hub.call('GET', '/v1/agents', home.user_token)).json as { agents: Array<{ name: string }> };
    expect(agents.agents.map((a) => a.name)).toEqual(['Forge']);
    const devices = (await hub.call('GET', `/v1/agents/${home.agent_id}/devices`, home.user_token)).json as {
      devices: unknown[];
    };
    expect(devices.devices).toHaveLength(1);
    const events = await hub.kysely.selectFrom('events').select('event_id').execute();
    expect(events).toEqual([]);
  });
});
