import { ErrorCode, type Principal } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import { CLOCK, type Clock } from '@marvain/platform';
import {
  auditEntries,
  insertAgents,
  openFeatureTestContext,
  refused,
  type AuditEntryBody,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { ConsentService } from './consent.service';
import { PeopleService } from './people.service';
import { SpacesModule } from './spaces.module';

/** A clock the test moves by hand. */
class ManualClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

const HOUR = 3_600_000;
const MISSING = '00000000-0000-4000-8000-000000000000';

describe(`PeopleService and ConsentService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let people: PeopleService;
  let consents: ConsentService;
  let clock: ManualClock;
  let agentA: string;
  let agentB: string;

  const manager = (agentId: string): Principal => ({
    type: 'user',
    id: '22222222-2222-4222-8222-222222222222',
    agents: [{ agent_id: agentId, scopes: ['spaces:read', 'spaces:manage'] }],
  });
  const reader = (agentId: string): Principal => ({
    type: 'user',
    id: '33333333-3333-4333-8333-333333333333',
    agents: [{ agent_id: agentId, scopes: ['spaces:read'] }],
  });

  const agentAudit = (agentId: string): Promise<AuditEntryBody[]> => auditEntries(context.db.db, { agentId });

  beforeAll(async () => {
    clock = new ManualClock(new Date(Date.now() + 1000));
    context = await openFeatureTestContext([SpacesModule], {
      customize: (builder) => builder.overrideProvider(CLOCK).useValue(clock),
    });
    people = context.moduleRef.get(PeopleService);
    consents = context.moduleRef.get(ConsentService);
    [agentA, agentB] = await insertAgents(context.db.db, ['a', 'b']);
  });
  afterAll(() => context.close());

  it("records and lists an agent's people, and only that agent's", async () => {
    const sam = await people.create(manager(agentA), agentA, 'Sam');
    await people.create(manager(agentB), agentB, 'Robin');
    expect(sam).toMatchObject({ agent_id: agentA, display_name: 'Sam' });
    const listed = (await people.list(reader(agentA), agentA)).people;
    expect(listed.map((p) => p.display_name)).toContain('Sam');
    expect(listed.every((p) => p.agent_id === agentA)).toBe(true);
    expect((await refused(people.create(reader(agentA), agentA, 'Nope'))).code).toBe(ErrorCode.Forbidden);
  });

  it('grants, replaces, expires and revokes consent, each grant and revocation audited once', async () => {
    const person = await people.create(manager(agentA), agentA, 'Alex');
    const before = (await agentAudit(agentA)).length;

    const voice = await consents.grant(manager(agentA), person.person_id, { consent_type: 'voice' });
    expect(voice).toMatchObject({
      person_id: person.person_id,
      agent_id: agentA,
      consent_type: 'voice',
      status: 'active',
      expires_at: null,
      revoked_at: null,
    });

    const expiresAt = new Date(clock.now().getTime() + HOUR);
    const face = await consents.grant(manager(agentA), person.person_id, {
      consent_type: 'face',
      expires_at: expiresAt.toISOString(),
    });
    expect(face).toMatchObject({ status: 'active', expires_at: expiresAt.toISOString() });

    // A second voice grant replaces the first: one voice grant in force at a time.
    const voiceAgain = await consents.grant(manager(agentA), person.person_id, {
      consent_type: 'voice',
      expires_at: new Date(clock.now().getTime() + 48 * HOUR).toISOString(),
    });
    clock.advance(2 * HOUR);

    const { consents: listed } = await consents.list(reader(agentA), person.person_id);
    const byId = new Map(listed.map((c) => [c.consent_id, c]));
    expect(byId.get(voice.consent_id)).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) });
    expect(byId.get(face.consent_id)).toMatchObject({ status: 'expired', revoked_at: null });
    expect(byId.get(voiceAgain.consent_id)).toMatchObject({ status: 'active' });
    expect(
      (await consents.list(reader(agentA), person.person_id, { status: 'active' })).consents.map((c) => c.consent_id),
    ).toEqual([voiceAgain.consent_id]);
    expect(
      (await consents.list(reader(agentA), person.person_id, { consent_type: 'face' })).consents.map(
        (c) => c.consent_id,
      ),
    ).toEqual([face.consent_id]);

    const revoked = await consents.revoke(manager(agentA), voiceAgain.consent_id, 'asked us to stop');
    expect(revoked).toMatchObject({ status: 'revoked', revoked_at: clock.now().toISOString() });
    clock.advance(1000);
    const again = await consents.revoke(manager(agentA), voiceAgain.consent_id);
    expect(again).toEqual(revoked);

    // Granting a new face consent does not touch the expired one (it stays expired, not revoked).
    await consents.grant(manager(agentA), person.person_id, { consent_type: 'face' });
    expect(
      (await consents.list(reader(agentA), person.person_id)).consents.find((c) => c.consent_id === face.consent_id),
    ).toMatchObject({ status: 'expired', revoked_at: null });

    const added = (await agentAudit(agentA)).slice(before);
    expect(added.map((e) => [e.action, e.subject?.id])).toEqual([
      ['consent.granted', voice.consent_id],
      ['consent.granted', face.consent_id],
      ['consent.granted', voiceAgain.consent_id],
      ['consent.revoked', voiceAgain.consent_id],
      ['consent.granted', expect.any(String)],
    ]);
    expect(added[2]!.details).toMatchObject({ consent_type: 'voice', replaced: [voice.consent_id] });
    expect(added[3]!.details).toEqual({
      person_id: person.person_id,
      consent_type: 'voice',
      status_before: 'active',
      reason: 'asked us to stop',
    });
    expect(added[4]!.details).toMatchObject({ consent_type: 'face', replaced: [] });
  });

  it('refuses an expiry that is not in the future as validation_failed', async () => {
    const person = await people.create(manager(agentA), agentA, 'Jo');
    const past = await refused(
      consents.grant(manager(agentA), person.person_id, {
        consent_type: 'voice',
        expires_at: new Date(clock.now().getTime() - 1).toISOString(),
      }),
    );
    expect(past).toMatchObject({
      code: ErrorCode.ValidationFailed,
      details: { fields: [{ field: 'expires_at', problems: ['expires_at must be in the future'] }] },
    });
    const now = await refused(
      consents.grant(manager(agentA), person.person_id, {
        consent_type: 'voice',
        expires_at: clock.now().toISOString(),
      }),
    );
    expect(now.code).toBe(ErrorCode.ValidationFailed);
    expect((await consents.list(reader(agentA), person.person_id)).consents).toEqual([]);
  });

  it("answers another agent's person and consent exactly like missing ones", async () => {
    const foreignPerson = await people.create(manager(agentB), agentB, 'Kim');
    const foreignConsent = await consents.grant(manager(agentB), foreignPerson.person_id, {
      consent_type: 'recording_storage',
    });
    const outsider = manager(agentA);
    const same = async (foreign: Promise<unknown>, missing: Promise<unknown>, foreignId: string): Promise<void> => {
      const [f, m] = [await refused(foreign), await refused(missing)];
      expect(f.code).toBe(ErrorCode.NotFound);
      expect({ code: f.code, message: f.message, details: f.details }).toEqual({
        code: m.code,
        message: m.message.replace(MISSING, foreignId),
        details: m.details,
      });
      // It names only the id asked for, never the agent that owns it.
      if (foreignId !== agentB) {
        expect(f.message).not.toContain(agentB);
      }
    };
    await same(
      consents.list(outsider, foreignPerson.person_id),
      consents.list(outsider, MISSING),
      foreignPerson.person_id,
    );
    await same(
      consents.grant(outsider, foreignPerson.person_id, { consent_type: 'voice' }),
      consents.grant(outsider, MISSING, { consent_type: 'voice' }),
      foreignPerson.person_id,
    );
    await same(
      consents.revoke(outsider, foreignConsent.consent_id),
      consents.revoke(outsider, MISSING),
      foreignConsent.consent_id,
    );
    await same(people.list(outsider, agentB), people.list(outsider, MISSING), agentB);
    await same(people.create(outsider, agentB, 'x'), people.create(outsider, MISSING, 'x'), agentB);

    // Nothing changed on the other agent's side.
    expect((await consents.list(reader(agentB), foreignPerson.person_id)).consents).toEqual([foreignConsent]);
    // A member who may only read gets 403 on writes (they can see the agent, so nothing leaks).
    expect((await refused(consents.revoke(reader(agentB), foreignConsent.consent_id))).code).toBe(ErrorCode.Forbidden);
    expect(
      (await refused(consents.grant(reader(agentB), foreignPerson.person_id, { consent_type: 'face' }))).code,
    ).toBe(ErrorCode.Forbidden);
  });

  it('leaves exactly one grant in force when two grants of one type for one person race', async () => {
    const person = await people.create(manager(agentA), agentA, 'Lee');
    const results = await Promise.all(
      Array.from({ length: 4 }, () => consents.grant(manager(agentA), person.person_id, { consent_type: 'voice' })),
    );
    expect(new Set(results.map((r) => r.consent_id)).size).toBe(4);
    const { consents: active } = await consents.list(reader(agentA), person.person_id, { status: 'active' });
    expect(active).toHaveLength(1);
    const revokedTogether = await consents.revoke(manager(agentA), active[0]!.consent_id);
    expect(revokedTogether.status).toBe('revoked');
    expect((await consents.list(reader(agentA), person.person_id, { status: 'active' })).consents).toEqual([]);
  });
});
