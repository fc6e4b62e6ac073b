import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { openHubTestServer, type HttpReply, type HubTestServer } from './testing/hub-test-server';

// Opening the hub on a fresh database takes seconds on a busy machine.
jest.setTimeout(120_000);

type Reply = Pick<HttpReply, 'status' | 'json'>;

describe(`spaces, people and consent over HTTP (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  /** Owner of the agent under test. */
  let home: BootstrapResult;
  /** Owner of another agent, and no member of home's. */
  let other: BootstrapResult;
  /** A plain `member` of home's agent (reads, but may not manage). */
  let member: BootstrapResult;

  /** Status and body only: many assertions compare whole replies. */
  const call = async (...args: Parameters<HubTestServer['call']>): Promise<Reply> => {
    const { status, json } = await hub.call(...args);
    return { status, json };
  };

  async function audited(
    agentId: string,
    action: string,
  ): Promise<Array<{ subject?: { id: string }; details?: Record<string, unknown> }>> {
    const rows = await sql<{
      body: string;
    }>`SELECT body FROM audit_entries WHERE agent_id = ${agentId}::uuid ORDER BY seq`.execute(hub.kysely);
    return rows.rows.map((r) => JSON.parse(r.body)).filter((e) => e.action === action);
  }

  async function countRows(spaceId: string): Promise<{ events: number; queued: number }> {
    const events = await sql<{
      n: string;
    }>`SELECT count(*)::text AS n FROM events WHERE space_id = ${spaceId}::uuid`.execute(hub.kysely);
    const queued = await sql<{ n: string }>`SELECT count(*)::text AS n FROM queue_messages`.execute(hub.kysely);
    return { events: Number(events.rows[0]!.n), queued: Number(queued.rows[0]!.n) };
  }

  beforeAll(async () => {
    hub = await openHubTestServer();
    home = await hub.bootstrap();
    other = await hub.bootstrap('Other', 'home');
    member = await hub.bootstrap('Third', 'home');
    await sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${home.agent_id}::uuid, ${member.user_id}::uuid, 'member')`.execute(
      hub.kysely,
    );
  });
  afterAll(() => hub.close());

  it('creates, lists, reads and renames spaces; a duplicate name answers 409 space_name_taken', async () => {
    const created = await call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, { name: '  kitchen ' });
    expect(created).toEqual({
      status: 201,
      json: {
        space_id: expect.any(String),
        agent_id: home.agent_id,
        name: 'kitchen',
        privacy_mode: false,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    });
    const duplicate = await call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, {
      name: 'kitchen',
      privacy_mode: true,
    });
    expect(duplicate).toMatchObject({
      status: 409,
      json: { error: { code: 'conflict', details: { reason: 'space_name_taken', field: 'name' } } },
    });
    // The same name under another agent is fine.
    expect(
      (await call('POST', `/v1/agents/${other.agent_id}/spaces`, other.user_token, { name: 'kitchen' })).status,
    ).toBe(201);

    const listed = await call('GET', `/v1/agents/${home.agent_id}/spaces`, home.user_token);
    expect(listed.status).toBe(200);
    expect(listed.json.spaces.map((s: any) => s.name)).toEqual(['home', 'kitchen']);

    const id = created.json.space_id as string;
    expect(await call('GET', `/v1/spaces/${id}`, home.user_token)).toEqual({ status: 200, json: created.json });
    expect(await call('GET', `/v1/spaces/${id.toUpperCase()}`, home.user_token)).toEqual({
      status: 200,
      json: created.json,
    });
    const renamed = await call('PATCH', `/v1/spaces/${id}`, home.user_token, { name: 'galley' });
    expect(renamed).toMatchObject({ status: 200, json: { space_id: id, name: 'galley', privacy_mode: false } });
    const clash = await call('PATCH', `/v1/spaces/${id}`, home.user_token, { name: 'home' });
    expect(clash).toMatchObject({
      status: 409,
      json: { error: { code: 'conflict', details: { reason: 'space_name_taken' } } },
    });
    expect((await call('PATCH', `/v1/spaces/${id}`, home.user_token, {})).json).toMatchObject({ name: 'galley' });

    // Members read spaces but may not manage them; the default device scopes include neither.
    expect((await call('GET', `/v1/spaces/${id}`, member.user_token)).status).toBe(200);
    expect((await call('PATCH', `/v1/spaces/${id}`, member.user_token, { privacy_mode: true })).json.error.code).toBe(
      'forbidden',
    );
    expect((await call('POST', `/v1/agents/${home.agent_id}/spaces`, member.user_token, { name: 'mine' })).status).toBe(
      403,
    );
    expect((await call('GET', `/v1/agents/${home.agent_id}/spaces`, home.device_token)).status).toBe(403);
    expect((await call('GET', `/v1/agents/${home.agent_id}/spaces`, null)).status).toBe(401);
  });

  it('in privacy mode accepts events with 202 but stores and queues nothing; turned off, events are stored again; both changes audited', async () => {
    const space = (await call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, { name: 'bedroom' })).json;
    const event = (n: number, clientId?: string) => ({
      space_id: space.space_id,
      type: 'transcript_chunk',
      payload: { text: `private words ${n}` },
      ...(clientId ? { client_event_id: clientId } : {}),
    });

    const on = await call('PATCH', `/v1/spaces/${space.space_id}`, home.user_token, { privacy_mode: true });
    expect(on).toMatchObject({ status: 200, json: { privacy_mode: true } });
    const before = await countRows(space.space_id);
    for (const [i, token] of [home.device_token, home.user_token].entries()) {
      const accepted = await call('POST', '/v1/events', token, event(i, `private-${i}`));
      expect(accepted).toEqual({ status: 202, json: { event_id: null, stored: false, duplicate: false } });
    }
    expect(await call('POST', '/v1/events', home.device_token, event(9))).toEqual({
      status: 202,
      json: { event_id: null, stored: false, duplicate: false },
    });
    expect(await countRows(space.space_id)).toEqual(before);
    const leaked = await sql<{
      n: string;
    }>`SELECT count(*)::text AS n FROM events WHERE payload->>'text' LIKE 'private words%'`.execute(hub.kysely);
    expect(leaked.rows[0]!.n).toBe('0');

    const off = await call('PATCH', `/v1/spaces/${space.space_id}`, home.user_token, { privacy_mode: false });
    expect(off).toMatchObject({ status: 200, json: { privacy_mode: false } });
    const stored = await call('POST', '/v1/events', home.device_token, event(10, 'after-privacy'));
    expect(stored).toEqual({ status: 202, json: { event_id: expect.any(String), stored: true, duplicate: false } });
    expect(await countRows(space.space_id)).toEqual({ events: before.events + 1, queued: before.queued + 1 });
    const queued = await sql<{
      n: string;
    }>`SELECT count(*)::text AS n FROM queue_messages WHERE body->>'event_id' = ${stored.json.event_id as string}`.execute(
      hub.kysely,
    );
    expect(queued.rows[0]!.n).toBe('1');

    const changes = await audited(home.agent_id, 'space.privacy_mode_changed');
    expect(changes.filter((e) => e.subject?.id === space.space_id).map((e) => e.details)).toEqual([
      { privacy_mode: true, previous: false },
      { privacy_mode: false, previous: true },
    ]);
    expect((await call('GET', `/v1/audit/verify?agent_id=${home.agent_id}`, home.user_token)).json.ok).toBe(true);
  });

  it('records people and their consent grants; lists them with status active, expired or revoked; revoking twice is harmless', async () => {
    const sam = await call('POST', `/v1/agents/${home.agent_id}/people`, home.user_token, { display_name: 'Sam' });
    expect(sam).toEqual({
      status: 201,
      json: {
        person_id: expect.any(String),
        agent_id: home.agent_id,
        display_name: 'Sam',
        created_at: expect.any(String),
      },
    });
    const people = await call('GET', `/v1/agents/${home.agent_id}/people`, member.user_token);
    expect(people).toMatchObject({ status: 200, json: { people: [sam.json] } });

    const personUrl = `/v1/people/${sam.json.person_id}/consents`;
    const voice = await call('POST', personUrl, home.user_token, { consent_type: 'voice' });
    expect(voice).toMatchObject({
      status: 201,
      json: {
        consent_type: 'voice',
        status: 'active',
        expires_at: null,
        revoked_at: null,
        person_id: sam.json.person_id,
        agent_id: home.agent_id,
      },
    });
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const face = await call('POST', personUrl, home.user_token, { consent_type: 'face', expires_at: soon });
    expect(face).toMatchObject({ status: 201, json: { status: 'active', expires_at: soon } });
    const storage = await call('POST', personUrl, home.user_token, { consent_type: 'recording_storage' });
    expect(storage.status).toBe(201);

    const revoked = await call('POST', `/v1/consents/${storage.json.consent_id}/revoke`, home.user_token, {
      reason: 'changed their mind',
    });
    expect(revoked).toMatchObject({
      status: 200,
      json: { consent_id: storage.json.consent_id, status: 'revoked', revoked_at: expect.any(String) },
    });
    const again = await call('POST', `/v1/consents/${storage.json.consent_id}/revoke`, home.user_token);
    expect(again).toEqual(revoked);

    // Time passes for the face grant.
    await sql`UPDATE consent_grants SET expires_at = now() - interval '1 minute' WHERE consent_id = ${face.json.consent_id as string}::uuid`.execute(
      hub.kysely,
    );

    const listed = await call('GET', personUrl, member.user_token);
    expect(listed.status).toBe(200);
    expect(Object.fromEntries(listed.json.consents.map((c: any) => [c.consent_type, c.status]))).toEqual({
      voice: 'active',
      face: 'expired',
      recording_storage: 'revoked',
    });
    expect(
      (await call('GET', `${personUrl}?status=active`, home.user_token)).json.consents.map((c: any) => c.consent_id),
    ).toEqual([voice.json.consent_id]);
    expect(
      (await call('GET', `${personUrl}?consent_type=face`, home.user_token)).json.consents.map((c: any) => c.status),
    ).toEqual(['expired']);

    expect((await audited(home.agent_id, 'consent.granted')).map((e) => e.subject?.id)).toEqual([
      voice.json.consent_id,
      face.json.consent_id,
      storage.json.consent_id,
    ]);
    expect(await audited(home.agent_id, 'consent.revoked')).toEqual([
      expect.objectContaining({
        subject: { type: 'consent', id: storage.json.consent_id },
        details: {
          person_id: sam.json.person_id,
          consent_type: 'recording_storage',
          status_before: 'active',
          reason: 'changed their mind',
        },
      }),
    ]);

    // Members read people and consent but do not record or revoke them.
    expect(
      (await call('POST', `/v1/agents/${home.agent_id}/people`, member.user_token, { display_name: 'Eve' })).status,
    ).toBe(403);
    expect((await call('POST', personUrl, member.user_token, { consent_type: 'voice' })).status).toBe(403);
    expect((await call('POST', `/v1/consents/${voice.json.consent_id}/revoke`, member.user_token)).status).toBe(403);
    expect((await call('GET', personUrl, home.device_token)).status).toBe(403);
  });

  it("answers every read and write of another agent's spaces, people and consents exactly like a missing id", async () => {
    const space = (await call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, { name: 'vault' })).json;
    const person = (
      await call('POST', `/v1/agents/${home.agent_id}/people`, home.user_token, { display_name: 'Robin' })
    ).json;
    const consent = (
      await call('POST', `/v1/people/${person.person_id}/consents`, home.user_token, { consent_type: 'face' })
    ).json;
    const missing = randomUUID();

    const cases: Array<[string, (id: string) => [string, string, unknown?], string]> = [
      ['list spaces', (id) => ['GET', `/v1/agents/${id}/spaces`], home.agent_id],
      ['create space', (id) => ['POST', `/v1/agents/${id}/spaces`, { name: 'stolen' }], home.agent_id],
      ['get space', (id) => ['GET', `/v1/spaces/${id}`], space.space_id],
      ['update space', (id) => ['PATCH', `/v1/spaces/${id}`, { privacy_mode: true }], space.space_id],
      ['list people', (id) => ['GET', `/v1/agents/${id}/people`], home.agent_id],
      ['create person', (id) => ['POST', `/v1/agents/${id}/people`, { display_name: 'Mallory' }], home.agent_id],
      ['list consents', (id) => ['GET', `/v1/people/${id}/consents`], person.person_id],
      ['list consents, filtered', (id) => ['GET', `/v1/people/${id}/consents?status=active`], person.person_id],
      ['grant consent', (id) => ['POST', `/v1/people/${id}/consents`, { consent_type: 'voice' }], person.person_id],
      ['revoke consent', (id) => ['POST', `/v1/consents/${id}/revoke`], consent.consent_id],
    ];
    for (const [what, request, foreignId] of cases) {
      const [method, url, body] = request(foreignId);
      const foreign = await call(method, url, other.user_token, body);
      const [missingMethod, missingUrl, missingBody] = request(missing);
      const absent = await call(missingMethod, missingUrl, other.user_token, missingBody);
      expect({ what, status: foreign.status }).toEqual({ what, status: 404 });
      expect({ what, json: foreign.json }).toEqual({
        what,
        json: {
          ...JSON.parse(JSON.stringify(absent.json).replaceAll(missing, foreignId)),
          request_id: expect.any(String),
        },
      });
      if (foreignId !== home.agent_id) {
        expect(JSON.stringify(foreign.json)).not.toContain(home.agent_id);
      }
    }

    // Nothing of home's changed.
    expect((await call('GET', `/v1/spaces/${space.space_id}`, home.user_token)).json.privacy_mode).toBe(false);
    expect(
      (await call('GET', `/v1/agents/${home.agent_id}/spaces`, home.user_token)).json.spaces.map((s: any) => s.name),
    ).not.toContain('stolen');
    expect(
      (await call('GET', `/v1/agents/${home.agent_id}/people`, home.user_token)).json.people.map(
        (p: any) => p.display_name,
      ),
    ).not.toContain('Mallory');
    const consents = (await call('GET', `/v1/people/${person.person_id}/consents`, home.user_token)).json.consents;
    expect(consents).toEqual([
      expect.objectContaining({ consent_id: consent.consent_id, consent_type: 'face', status: 'active' }),
    ]);
    // And other's own lists show none of it.
    expect(
      (await call('GET', `/v1/agents/${other.agent_id}/spaces`, other.user_token)).json.spaces.map(
        (s: any) => s.agent_id,
      ),
    ).toEqual([other.agent_id, other.agent_id]);
    expect((await call('GET', `/v1/agents/${other.agent_id}/people`, other.user_token)).json.people).toEqual([]);
  });

  it('answers bad input on every route with 400 validation_failed, never 500', async () => {
    const space = (await call('POST', `/v1/agents/${home.agent_id}/spaces`, home.user_token, { name: 'lab' })).json;
    const person = (await call('POST', `/v1/agents/${home.agent_id}/people`, home.user_token, { display_name: 'Pat' }))
      .json;
    const consent = (
      await call('POST', `/v1/people/${person.person_id}/consents`, home.user_token, { consent_type: 'voice' })
    ).json;
    const long = 'x'.repeat(201);
    const past = new Date(Date.now() - 60_000).toISOString();
    const agentSpaces = `/v1/agents/${home.agent_id}/spaces`;
    const agentPeople = `/v1/agents/${home.agent_id}/people`;
    const consents = `/v1/people/${person.person_id}/consents`;

    const peopleBefore = ((await call('GET', agentPeople, home.user_token)).json.people as unknown[]).length;
    const cases: Array<[string, string, unknown, string?]> = [
      // ids that are not uuids
      ['GET', '/v1/agents/not-a-uuid/spaces', undefined],
      ['POST', '/v1/agents/123/spaces', { name: 'x' }],
      ['GET', '/v1/spaces/not-a-uuid', undefined],
      ['PATCH', `/v1/spaces/${space.space_id}x`, { name: 'x' }],
      ['GET', "/v1/agents/'%20OR%201=1/people", undefined],
      ['POST', '/v1/agents/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/people', { display_name: 'x' }],
      ['GET', '/v1/people/1/consents', undefined],
      ['POST', '/v1/people/null/consents', { consent_type: 'voice' }],
      ['POST', '/v1/consents/undefined/revoke', undefined],
      // create space
      ['POST', agentSpaces, {}],
      ['POST', agentSpaces, { name: 42 }],
      ['POST', agentSpaces, { name: '' }],
      ['POST', agentSpaces, { name: '   ' }],
      ['POST', agentSpaces, { name: long }],
      ['POST', agentSpaces, { name: 'ok\nnot' }],
      ['POST', agentSpaces, { name: ['a'] }],
      ['POST', agentSpaces, { name: null }],
      ['POST', agentSpaces, { name: 'den', privacy_mode: 'yes' }],
      ['POST', agentSpaces, { name: 'den', privacy_mode: null }],
      ['POST', agentSpaces, { name: 'den', agent_id: home.agent_id }],
      ['POST', agentSpaces, { name: 'den', space_id: randomUUID() }],
      ['POST', agentSpaces, [{ name: 'den' }]],
      ['POST', agentSpaces, undefined, '{"name": "den"'],
      ['POST', agentSpaces, 'den'],
      // update space
      ['PATCH', `/v1/spaces/${space.space_id}`, { name: null }],
      ['PATCH', `/v1/spaces/${space.space_id}`, { name: long }],
      ['PATCH', `/v1/spaces/${space.space_id}`, { privacy_mode: 1 }],
      ['PATCH', `/v1/spaces/${space.space_id}`, { privacy_mode: null }],
      ['PATCH', `/v1/spaces/${space.space_id}`, { privacy_mode: 'true' }],
      ['PATCH', `/v1/spaces/${space.space_id}`, { agent_id: other.agent_id }],
      ['PATCH', `/v1/spaces/${space.space_id}`, { created_at: past }],
      // create person
      ['POST', agentPeople, {}],
      ['POST', agentPeople, { display_name: 7 }],
      ['POST', agentPeople, { display_name: '' }],
      ['POST', agentPeople, { display_name: long }],
      ['POST', agentPeople, { display_name: 'Sam', email: 'sam@example.com' }],
      ['POST', agentPeople, { display_name: { first: 'Sam' } }],
      // grant consent
      ['POST', consents, {}],
      ['POST', consents, { consent_type: 'fingerprint' }],
      ['POST', consents, { consent_type: 'VOICE' }],
      ['POST', consents, { consent_type: 3 }],
      ['POST', consents, { consent_type: ['voice'] }],
      ['POST', consents, { consent_type: 'voice', expires_at: past }],
      ['POST', consents, { consent_type: 'voice', expires_at: 'tomorrow' }],
      ['POST', consents, { consent_type: 'voice', expires_at: 1893456000 }],
      ['POST', consents, { consent_type: 'voice', expires_at: '2099-02-30T00:00:00Z' }],
      ['POST', consents, { consent_type: 'voice', expires_at: '2099-01-01T00:00:00' }],
      ['POST', consents, { consent_type: 'voice', expires_at: '2099-01-01' }],
      ['POST', consents, { consent_type: 'voice', expires_at: '+275760-09-13T00:00:00Z' }],
      ['POST', consents, { consent_type: 'voice', expires_at: null }],
      ['POST', consents, { consent_type: 'voice', person_id: randomUUID() }],
      ['POST', consents, { consent_type: 'voice', revoked_at: past }],
      // list consents
      ['GET', `${consents}?status=pending`, undefined],
      ['GET', `${consents}?consent_type=smell`, undefined],
      ['GET', `${consents}?status=active&status=revoked`, undefined],
      ['GET', `${consents}?page=5`, undefined],
      ['GET', `${consents}?limit=0`, undefined],
      ['GET', `${consents}?cursor=not-a-cursor`, undefined],
      // revoke consent
      ['POST', `/v1/consents/${consent.consent_id}/revoke`, { reason: 5 }],
      ['POST', `/v1/consents/${consent.consent_id}/revoke`, { reason: 'r'.repeat(501) }],
      ['POST', `/v1/consents/${consent.consent_id}/revoke`, { revoked_at: past }],
    ];
    for (const [method, url, body, raw] of cases) {
      // `raw` is sent as it is; a string `body` is a JSON string value.
      const response = await call(
        method,
        url,
        home.user_token,
        raw ?? (typeof body === 'string' ? JSON.stringify(body) : body),
      );
      expect({ method, url, body, raw, status: response.status, code: response.json?.error?.code }).toEqual({
        method,
        url,
        body,
        raw,
        status: 400,
        code: 'validation_failed',
      });
    }

    // None of it changed anything.
    expect((await call('GET', `/v1/spaces/${space.space_id}`, home.user_token)).json).toMatchObject({
      name: 'lab',
      privacy_mode: false,
    });
    expect((await call('GET', consents, home.user_token)).json.consents).toEqual([
      expect.objectContaining({ consent_id: consent.consent_id, status: 'active' }),
    ]);
    expect((await call('GET', agentPeople, home.user_token)).json.people).toHaveLength(peopleBefore);

    // The far edge of the valid range still works.
    expect(
      (await call('POST', consents, home.user_token, { consent_type: 'face', expires_at: '9999-12-31T23:59:59.999Z' }))
        .status,
    ).toBe(201);
    expect(
      (await call('POST', consents, home.user_token, { consent_type: 'face', expires_at: '2099-01-01T12:00:00+02:00' }))
        .json.expires_at,
    ).toBe('2099-01-01T10:00:00.000Z');
  });
});
