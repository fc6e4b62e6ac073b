import { randomUUID } from 'node:crypto';
import type { Type } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import { sql } from 'kysely';
import { testDatabaseKind } from '@marvain/db/testing';
import { LocalUsersService, type BootstrapResult } from '@marvain/identity';
import { ListPageQuery, LIST_LIMIT_MAX } from '@marvain/platform';
import { newAgentKey, openHubTestServer, type HubTestServer } from './testing/hub-test-server';
import { routeTable } from './testing/route-table';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(180_000);

/*
 * Cursor pagination over HTTP on every list route: each list is given more rows than a page
 * holds, all with the same timestamp (ties broken by id alone), and walked page by page through
 * `next_cursor`; every row must come exactly once, in the list's order. A cursor the hub did not
 * issue is a 400, and a cursor can never reach another agent's rows.
 */

const PAGE = 2;
const TIE = '2026-06-01T12:00:00.000000Z';

interface ListSpec {
  /** The key of the response holding the items, and each item's id field. */
  items: string;
  id: string;
  direction: 'asc' | 'desc';
  url(side: Side): string;
  /** Adds rows until the list holds more than one page. */
  grow(side: Side): Promise<void>;
  /** Gives every row of the side's list the same timestamp. */
  tie(side: Side): Promise<void>;
}

interface Side {
  home: BootstrapResult;
  personId: string;
}

describe(`cursor pagination on every list route (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let a: Side;
  let b: Side;

  const must = async (method: string, url: string, token: string, body?: unknown): Promise<any> => {
    const reply = await hub.call(method, url, token, body);
    if (reply.status >= 300) {
      throw new Error(`setup ${method} ${url} answered ${reply.status}: ${reply.text}`);
    }
    return reply.json;
  };
  const times = async (n: number, make: (i: number) => Promise<unknown>): Promise<void> => {
    for (let i = 0; i < n; i += 1) {
      await make(i);
    }
  };
  const tieWhere = async (table: string, column: string, key: string, value: string): Promise<void> => {
    await sql`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${TIE}::timestamptz WHERE ${sql.ref(key)} = ${value}::uuid`.execute(
      hub.kysely,
    );
  };

  const insertActions = async (side: Side, n: number): Promise<void> => {
    await sql`INSERT INTO actions (action_id, agent_id, kind, payload, required_scopes, status, reason)
        SELECT gen_random_uuid(), ${side.home.agent_id}::uuid, 'send_message', '{"text":"hi"}'::jsonb, '["messages:send"]'::jsonb, 'proposed', 'pages'
        FROM generate_series(1, ${n}::int)`.execute(hub.kysely);
  };

  const LISTS: Record<string, ListSpec> = {
    'GET /v1/agents': {
      items: 'agents',
      id: 'agent_id',
      direction: 'asc',
      url: () => '/v1/agents',
      grow: (s) => times(5, (i) => must('POST', '/v1/agents', s.home.user_token, { name: `agent ${i}` })),
      tie: async (s) => {
        await sql`UPDATE agents SET created_at = ${TIE}::timestamptz WHERE agent_id IN
            (SELECT agent_id FROM agent_memberships WHERE user_id = ${s.home.user_id}::uuid)`.execute(hub.kysely);
      },
    },
    'GET /v1/agents/:agent_id/members': {
      items: 'members',
      id: 'membership_id',
      direction: 'asc',
      url: (s) => `/v1/agents/${s.home.agent_id}/members`,
      grow: (s) =>
        times(5, async () => {
          const user = await hub.app.get(LocalUsersService).create(`m-${randomUUID()}@example.test`, null);
          await must('POST', `/v1/agents/${s.home.agent_id}/members`, s.home.user_token, {
            user_id: user.user_id,
            role: 'member',
          });
        }),
      tie: (s) => tieWhere('agent_memberships', 'created_at', 'agent_id', s.home.agent_id),
    },
    'GET /v1/agents/:agent_id/credentials': {
      items: 'credentials',
      id: 'credential_id',
      direction: 'desc',
      url: (s) => `/v1/agents/${s.home.agent_id}/credentials`,
      // Each key replaces the last; the replaced ones stay listed, revoked.
      grow: (s) =>
        times(5, async () =>
          must('POST', `/v1/agents/${s.home.agent_id}/credentials`, s.home.user_token, {
            alg: 'EdDSA',
            public_key: (await newAgentKey()).publicJwk,
          }),
        ),
      tie: (s) => tieWhere('agent_credentials', 'created_at', 'agent_id', s.home.agent_id),
    },
    'GET /v1/agents/:agent_id/devices': {
      items: 'devices',
      id: 'device_id',
      direction: 'desc',
      url: (s) => `/v1/agents/${s.home.agent_id}/devices`,
      grow: (s) =>
        times(5, (i) =>
          must('POST', `/v1/agents/${s.home.agent_id}/devices`, s.home.user_token, { name: `device ${i}` }),
        ),
      tie: (s) => tieWhere('devices', 'created_at', 'agent_id', s.home.agent_id),
    },
    'GET /v1/devices/:device_id/commands': {
      items: 'commands',
      id: 'command_id',
      direction: 'desc',
      url: (s) => `/v1/devices/${s.home.device_id}/commands`,
      grow: (s) =>
        times(5, () => must('POST', `/v1/devices/${s.home.device_id}/commands`, s.home.user_token, { kind: 'ping' })),
      tie: (s) => tieWhere('device_commands', 'created_at', 'device_id', s.home.device_id),
    },
    'GET /v1/agents/:agent_id/spaces': {
      items: 'spaces',
      id: 'space_id',
      direction: 'asc',
      url: (s) => `/v1/agents/${s.home.agent_id}/spaces`,
      grow: (s) =>
        times(5, (i) => must('POST', `/v1/agents/${s.home.agent_id}/spaces`, s.home.user_token, { name: `room ${i}` })),
      tie: (s) => tieWhere('spaces', 'created_at', 'agent_id', s.home.agent_id),
    },
    'GET /v1/agents/:agent_id/people': {
      items: 'people',
      id: 'person_id',
      direction: 'asc',
      url: (s) => `/v1/agents/${s.home.agent_id}/people`,
      grow: (s) =>
        times(5, (i) =>
          must('POST', `/v1/agents/${s.home.agent_id}/people`, s.home.user_token, { display_name: `person ${i}` }),
        ),
      tie: (s) => tieWhere('people', 'created_at', 'agent_id', s.home.agent_id),
    },
    'GET /v1/people/:person_id/consents': {
      items: 'consents',
      id: 'consent_id',
      direction: 'desc',
      url: (s) => `/v1/people/${s.personId}/consents`,
      grow: (s) =>
        times(5, (i) =>
          must('POST', `/v1/people/${s.personId}/consents`, s.home.user_token, {
            consent_type: ['voice', 'face', 'recording_storage'][i % 3],
          }),
        ),
      tie: (s) => tieWhere('consent_grants', 'granted_at', 'person_id', s.personId),
    },
    'GET /v1/actions': {
      items: 'actions',
      id: 'action_id',
      direction: 'desc',
      url: (s) => `/v1/actions?agent_id=${s.home.agent_id}`,
      grow: async (s) => {
        await insertActions(s, 5);
      },
      tie: (s) => tieWhere('actions', 'created_at', 'agent_id', s.home.agent_id),
    },
    'GET /v1/memories': {
      items: 'memories',
      id: 'memory_id',
      direction: 'desc',
      url: (s) => `/v1/memories?agent_id=${s.home.agent_id}`,
      grow: async (s) => {
        await sql`INSERT INTO memories (memory_id, agent_id, tier, content)
            SELECT gen_random_uuid(), ${s.home.agent_id}::uuid, 'semantic', 'fact ' || i FROM generate_series(1, 5) AS i`.execute(
          hub.kysely,
        );
      },
      tie: (s) => tieWhere('memories', 'created_at', 'agent_id', s.home.agent_id),
    },
  };

  const withQuery = (url: string, query: Record<string, string | number>): string => {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
    return `${url}${url.includes('?') ? '&' : '?'}${params.toString()}`;
  };

  /** Every page from the start, `limit` at a time, following next_cursor to its end. */
  async function walk(spec: ListSpec, side: Side, limit: number): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const reply = await hub.call(
        'GET',
        withQuery(spec.url(side), { limit, ...(cursor ? { cursor } : {}) }),
        side.home.user_token,
      );
      expect(reply.status).toBe(200);
      const items = reply.json[spec.items] as Array<Record<string, string>>;
      expect(items.length).toBeLessThanOrEqual(limit);
      ids.push(...items.map((item) => item[spec.id] as string));
      cursor = reply.json.next_cursor as string | null;
      if (cursor !== null) {
        expect(items).toHaveLength(limit);
      }
      pages += 1;
      if (pages > 1000) {
        throw new Error('the walk does not end');
      }
    } while (cursor !== null);
    return { ids, pages };
  }

  async function side(name: string): Promise<Side> {
    const home = await hub.bootstrap(name, 'home');
    const person = await must('POST', `/v1/agents/${home.agent_id}/people`, home.user_token, { display_name: 'Ada' });
    return { home, personId: person.person_id as string };
  }

  beforeAll(async () => {
    hub = await openHubTestServer();
    a = await side('A');
    b = await side('B');
    for (const spec of Object.values(LISTS)) {
      for (const s of [a, b]) {
        await spec.grow(s);
        await spec.tie(s);
      }
    }
  });
  afterAll(() => hub.close());

  it('covers every route whose query takes a cursor, and every list route takes one', () => {
    const controllers = new Map<string, Type>();
    for (const module of hub.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        if (wrapper.metatype) {
          controllers.set(wrapper.metatype.name, wrapper.metatype as Type);
        }
      }
    }
    const paginated = routeTable(hub.app).filter((route) => {
      const controller = controllers.get(route.controller) as Type;
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, route.handler) ?? {}) as Record<
        string,
        { index: number }
      >;
      const types = (Reflect.getMetadata('design:paramtypes', controller.prototype as object, route.handler) ??
        []) as unknown[];
      return Object.entries(args).some(([key, arg]) => {
        const dto = types[arg.index];
        return (
          key.startsWith(`${RouteParamtypes.QUERY}:`) &&
          typeof dto === 'function' &&
          (dto === ListPageQuery || dto.prototype instanceof ListPageQuery)
        );
      });
    });
    expect(paginated.map((r) => r.key).sort()).toEqual(Object.keys(LISTS).sort());
  });

  it('documents cursor and next_cursor in the OpenAPI document for every list route', async () => {
    const doc = (await hub.call('GET', '/openapi.json', null)).json as {
      paths: Record<
        string,
        Record<string, { parameters?: Array<{ name: string; in: string }>; responses: Record<string, any> }>
      >;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; allOf?: unknown[] }> };
    };
    const schemaProperties = (schema: any): string[] => {
      if (!schema) {
        return [];
      }
      if (schema.$ref) {
        return schemaProperties(doc.components.schemas[String(schema.$ref).split('/').pop() as string]);
      }
      return [
        ...Object.keys(schema.properties ?? {}),
        ...((schema.allOf ?? []) as unknown[]).flatMap(schemaProperties),
      ];
    };
    const missing: string[] = [];
    for (const key of Object.keys(LISTS)) {
      const [method, path] = key.split(' ') as [string, string];
      const operation = doc.paths[path.replace(/:([a-z_]+)/g, '{$1}')]?.[method.toLowerCase()];
      if (!operation?.parameters?.some((p) => p.name === 'cursor' && p.in === 'query')) {
        missing.push(`${key}: no cursor parameter`);
      }
      if (
        !schemaProperties(operation?.responses['200']?.content?.['application/json']?.schema).includes('next_cursor')
      ) {
        missing.push(`${key}: no next_cursor`);
      }
    }
    expect(missing).toEqual([]);
  });

  it.each(Object.keys(LISTS))(
    '%s: walks every row exactly once, in order, through next_cursor (ties broken by id)',
    async (key) => {
      const spec = LISTS[key] as ListSpec;
      const whole = await hub.call('GET', withQuery(spec.url(a), { limit: LIST_LIMIT_MAX }), a.home.user_token);
      expect(whole.status).toBe(200);
      expect(whole.json.next_cursor).toBeNull();
      const all = (whole.json[spec.items] as Array<Record<string, string>>).map((item) => item[spec.id] as string);
      expect(all.length).toBeGreaterThan(PAGE * 2);
      // Every row has the same timestamp, so the id alone orders them.
      const byId = [...all].sort();
      expect(all).toEqual(spec.direction === 'asc' ? byId : byId.reverse());

      const { ids, pages } = await walk(spec, a, PAGE);
      expect(ids).toEqual(all);
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages).toBe(Math.ceil(all.length / PAGE));
      // Agent B's rows are there too, with the very same timestamp; none may show up.
      const theirs = await walk(spec, b, LIST_LIMIT_MAX);
      expect(ids.filter((id) => theirs.ids.includes(id))).toEqual([]);
    },
  );

  it.each(Object.keys(LISTS))("%s: a cursor from agent B's list never reaches B's rows", async (key) => {
    const spec = LISTS[key] as ListSpec;
    const foreign = await hub.call('GET', withQuery(spec.url(b), { limit: 1 }), b.home.user_token);
    const cursor = foreign.json.next_cursor as string;
    expect(typeof cursor).toBe('string');
    const theirs = new Set((await walk(spec, b, LIST_LIMIT_MAX)).ids);
    const reply = await hub.call('GET', withQuery(spec.url(a), { limit: LIST_LIMIT_MAX, cursor }), a.home.user_token);
    expect(reply.status).toBe(200);
    const ids = (reply.json[spec.items] as Array<Record<string, string>>).map((item) => item[spec.id] as string);
    expect(ids.filter((id) => theirs.has(id))).toEqual([]);
  });

  const cursorOf = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
  const BAD_CURSORS: ReadonlyArray<[string, string]> = [
    ['garbage', 'not a cursor'],
    ['base64url of non-JSON', cursorOf('hello')],
    ['a tampered timestamp', cursorOf(JSON.stringify(['2026-02-31T00:00:00.000000Z', randomUUID()]))],
    ['a year PostgreSQL refuses', cursorOf(JSON.stringify(['0000-01-01T00:00:00.000000Z', randomUUID()]))],
    ['an id that is not a uuid', cursorOf(JSON.stringify([TIE, "x' OR '1'='1"]))],
    ['a NUL byte', cursorOf(JSON.stringify([`${TIE}\u0000`, randomUUID()]))],
    ['an oversized text', 'A'.repeat(4000)],
  ];

  it.each(Object.keys(LISTS))(
    '%s: answers a cursor it did not issue with 400 validation_failed naming cursor',
    async (key) => {
      const spec = LISTS[key] as ListSpec;
      const failures: string[] = [];
      for (const [label, cursor] of BAD_CURSORS) {
        const reply = await hub.call('GET', withQuery(spec.url(a), { cursor }), a.home.user_token);
        const fields = ((reply.json?.error?.details?.fields ?? []) as Array<{ field: string }>).map((f) => f.field);
        if (reply.status !== 400 || reply.json?.error?.code !== 'validation_failed' || !fields.includes('cursor')) {
          failures.push(`${label}: ${reply.status} ${reply.text.slice(0, 160)}`);
        }
      }
      expect(failures).toEqual([]);
    },
  );

  it('reaches rows beyond the largest page: older items are no longer cut off at the limit', async () => {
    const c = await side('C');
    await insertActions(c, LIST_LIMIT_MAX + 5);
    const first = await hub.call(
      'GET',
      withQuery(`/v1/actions?agent_id=${c.home.agent_id}`, { limit: LIST_LIMIT_MAX }),
      c.home.user_token,
    );
    expect(first.json.actions).toHaveLength(LIST_LIMIT_MAX);
    const second = await hub.call(
      'GET',
      withQuery(`/v1/actions?agent_id=${c.home.agent_id}`, { limit: LIST_LIMIT_MAX, cursor: first.json.next_cursor }),
      c.home.user_token,
    );
    expect(second.json).toMatchObject({ next_cursor: null });
    expect(second.json.actions).toHaveLength(5);
    const ids = new Set([...first.json.actions, ...second.json.actions].map((x: { action_id: string }) => x.action_id));
    expect(ids.size).toBe(LIST_LIMIT_MAX + 5);
  });
});
