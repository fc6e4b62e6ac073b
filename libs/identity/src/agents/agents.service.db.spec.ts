import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ErrorCode, ROLE_SCOPES } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import { auditActions, openFeatureTestContext, refused, type FeatureTestContext } from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import { AgentsService } from './agents.service';
import { IdentityModule } from '../identity.module';
import { MembersService } from '../members/members.service';
import { PrincipalResolver } from '../principals/principal-resolver.service';
import { ownerFixtures } from '../testing';
import { TestStreamPublisherModule } from '@marvain/streams/testing';

jest.setTimeout(60_000);

describe(`AgentsService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let agents: AgentsService;
  let members: MembersService;
  let resolver: PrincipalResolver;
  let audit: AuditService;
  const { seed, as } = ownerFixtures(() => context);

  beforeAll(async () => {
    context = await openFeatureTestContext([IdentityModule, TestStreamPublisherModule]);
    agents = context.moduleRef.get(AgentsService);
    members = context.moduleRef.get(MembersService);
    resolver = context.moduleRef.get(PrincipalResolver);
    audit = context.moduleRef.get(AuditService);
  });

  afterAll(() => context.close());

  const agentAudit = (agentId: string): Promise<string[]> => auditActions(context.db.db, { agentId });

  it('creates an agent owned by the calling user in one audited transaction', async () => {
    const me = await seed();
    const created = await agents.create(await as(me), { name: '  Scout  ', kind: 'llm' });
    expect(created).toMatchObject({ name: 'Scout', kind: 'llm', disabled: false, role: 'owner' });

    const principal = await as(me);
    expect(principal.agents.find((a) => a.agent_id === created.agent_id)?.scopes).toEqual(ROLE_SCOPES.owner);
    expect(await agentAudit(created.agent_id)).toEqual(['agent.created', 'membership.granted']);
    await audit.flush();
    await expect(audit.verify(created.agent_id)).resolves.toMatchObject({ ok: true, entries: 2 });

    const defaults = await agents.create(principal, { name: 'Plain' });
    expect(defaults.kind).toBe('self');
  });

  it('lets only users create agents', async () => {
    const me = await seed();
    const device = await resolver.resolve(me.device_token);
    const error = await refused(agents.create(device, { name: 'Sneaky' }));
    expect(error.code).toBe(ErrorCode.Forbidden);
  });

  it("lists only the agents the caller may read, with the caller's role", async () => {
    const me = await seed('Mine');
    const other = await seed('Theirs');
    const second = await agents.create(await as(me), { name: 'Second' });
    await members.add(await as(other), other.agent_id, me.user_id, 'member');
    const guestOf = await seed('Guesting');
    await members.add(await as(guestOf), guestOf.agent_id, me.user_id, 'guest');

    const listed = (await agents.list(await as(me))).agents;
    expect(listed.map((a) => [a.agent_id, a.role])).toEqual([
      [me.agent_id, 'owner'],
      [other.agent_id, 'member'],
      [second.agent_id, 'owner'],
    ]);
    // A guest holds no agents:read, so the agent is not listed (nor readable by id).
    expect((await refused(agents.get(await as(me), guestOf.agent_id))).code).toBe(ErrorCode.Forbidden);

    // A device lists the agent it acts for once it holds agents:read, without a role.
    const device = await resolver.resolve(me.device_token);
    expect((await agents.list(device)).agents).toEqual([]);
    await sql`UPDATE devices SET scopes = '["agents:read"]'::jsonb WHERE device_id = ${me.device_id}::uuid`.execute(
      context.db.db,
    );
    expect(
      (await agents.list(await resolver.resolve(me.device_token))).agents.map((a) => [a.agent_id, a.role]),
    ).toEqual([[me.agent_id, null]]);
  });

  it("answers another agent's record exactly like a missing one", async () => {
    const me = await seed();
    const stranger = await seed('Stranger');
    const missing = randomUUID();
    const attempts: Array<(agentId: string) => Promise<unknown>> = [
      async (agentId) => agents.get(await as(stranger), agentId),
      async (agentId) => agents.update(await as(stranger), agentId, { name: 'Mine now' }),
      async (agentId) => agents.disable(await as(stranger), agentId),
    ];
    for (const attempt of attempts) {
      const foreign = await refused(attempt(me.agent_id));
      const absent = await refused(attempt(missing));
      expect([foreign.code, foreign.message]).toEqual([ErrorCode.NotFound, `agent ${me.agent_id} was not found`]);
      expect([absent.code, absent.message]).toEqual([ErrorCode.NotFound, `agent ${missing} was not found`]);
    }
    expect((await agents.list(await as(stranger))).agents.map((a) => a.agent_id)).toEqual([stranger.agent_id]);
    await expect(agents.get(await as(me), me.agent_id)).resolves.toMatchObject({ name: 'Forge' });
  });

  it('renames an agent (owner only), auditing real changes only', async () => {
    const me = await seed();
    const admin = await seed('Elsewhere');
    await members.add(await as(me), me.agent_id, admin.user_id, 'admin');
    expect((await refused(agents.update(await as(admin), me.agent_id, { name: 'Nope' }))).code).toBe(
      ErrorCode.Forbidden,
    );

    const before = (await agentAudit(me.agent_id)).length;
    await expect(agents.update(await as(me), me.agent_id, { name: 'Forge II' })).resolves.toMatchObject({
      name: 'Forge II',
      role: 'owner',
    });
    await expect(agents.update(await as(me), me.agent_id, { name: 'Forge II' })).resolves.toMatchObject({
      name: 'Forge II',
    });
    await expect(agents.update(await as(me), me.agent_id, {})).resolves.toMatchObject({ name: 'Forge II' });
    const actions = await agentAudit(me.agent_id);
    expect(actions.slice(before)).toEqual(['agent.updated']);
  });

  it('disables an agent: its members and devices lose access at once', async () => {
    const me = await seed();
    const member = await seed('Elsewhere');
    await members.add(await as(me), me.agent_id, member.user_id, 'member');
    await expect(resolver.resolve(me.device_token)).resolves.toMatchObject({ type: 'device' });
    expect((await refused(agents.disable(await as(member), me.agent_id))).code).toBe(ErrorCode.Forbidden);

    const disabled = await agents.disable(await as(me), me.agent_id);
    expect(disabled).toMatchObject({ agent_id: me.agent_id, disabled: true, role: 'owner' });
    expect((await agentAudit(me.agent_id)).at(-1)).toBe('agent.disabled');

    const deviceError = await refused(resolver.resolve(me.device_token));
    expect([deviceError.code, deviceError.message]).toEqual([
      ErrorCode.Unauthenticated,
      "this device's agent is disabled",
    ]);
    for (const user of [me, member]) {
      const principal = await as(user);
      expect(principal.agents.map((a) => a.agent_id)).not.toContain(me.agent_id);
      expect((await refused(agents.get(principal, me.agent_id))).code).toBe(ErrorCode.NotFound);
      expect((await refused(members.list(principal, me.agent_id))).code).toBe(ErrorCode.NotFound);
    }
    expect((await agents.list(await as(member))).agents.map((a) => a.agent_id)).toEqual([member.agent_id]);
    // Disabling twice finds nothing to disable.
    expect((await refused(agents.disable(await as(me), me.agent_id))).code).toBe(ErrorCode.NotFound);
  });

  it('enables a disabled agent again (owner only, audited once, idempotent): everything it had works again', async () => {
    const me = await seed();
    const admin = await seed('Elsewhere');
    const outsider = await seed('Outside');
    await members.add(await as(me), me.agent_id, admin.user_id, 'admin');
    await agents.disable(await as(me), me.agent_id);
    const before = await agentAudit(me.agent_id);

    // The disabled agent grants no scopes, yet its owner can still reach it here; nobody else can.
    expect((await refused(agents.enable(await as(admin), me.agent_id))).code).toBe(ErrorCode.Forbidden);
    expect((await refused(agents.enable(await as(outsider), me.agent_id))).code).toBe(ErrorCode.NotFound);
    expect((await refused(agents.enable(await as(me), randomUUID()))).code).toBe(ErrorCode.NotFound);
    expect(await agentAudit(me.agent_id)).toEqual(before);

    const enabled = await agents.enable(await as(me), me.agent_id);
    expect(enabled).toMatchObject({ agent_id: me.agent_id, disabled: false, role: 'owner' });
    expect((await agentAudit(me.agent_id)).slice(before.length)).toEqual(['agent.enabled']);

    // Members, devices and data come back as they were: nothing was deleted while it was disabled.
    await expect(resolver.resolve(me.device_token)).resolves.toMatchObject({ type: 'device' });
    await expect(agents.get(await as(admin), me.agent_id)).resolves.toMatchObject({ role: 'admin', disabled: false });
    expect((await members.list(await as(me), me.agent_id)).members.map((m) => m.user_id).sort()).toEqual(
      [me.user_id, admin.user_id].sort(),
    );

    // Enabling again changes and audits nothing; a device cannot enable at all.
    await expect(agents.enable(await as(me), me.agent_id)).resolves.toMatchObject({ disabled: false, role: 'owner' });
    expect((await agentAudit(me.agent_id)).slice(before.length)).toEqual(['agent.enabled']);
    expect((await refused(agents.enable(await resolver.resolve(me.device_token), me.agent_id))).code).toBe(
      ErrorCode.Forbidden,
    );
    await audit.flush();
    await expect(audit.verify(me.agent_id)).resolves.toMatchObject({ ok: true });
  });
});
