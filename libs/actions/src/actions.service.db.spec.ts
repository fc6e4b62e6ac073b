import { randomUUID } from 'node:crypto';
import { type TestingModule } from '@nestjs/testing';
import { sql } from 'kysely';
import { DomainError, ERROR_HTTP_STATUS, ErrorCode, ROLE_SCOPES, type MembershipRole, type Principal } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { testDatabaseKind, type TestDatabase } from '@marvain/db/testing';
import { openFeatureTestContext } from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import { BootstrapService, IdentityModule, PrincipalResolver, USER_TOKEN_ISSUER, type BootstrapResult, type UserTokenIssuer } from '@marvain/identity';
import { ActionsModule } from './actions.module';
import { ActionsService } from './actions.service';

jest.setTimeout(60_000);

/** Rejects with a DomainError of `code`; returns it for further checks. */
async function domainError(promise: Promise<unknown>, code: ErrorCode): Promise<DomainError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${code} DomainError, but the call succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
  return error as DomainError;
}

describe(`ActionsService (${testDatabaseKind()})`, () => {
  let handle: TestDatabase;
  let moduleRef: TestingModule;
  let actions: ActionsService;
  let transactions: TransactionRunner;
  let resolver: PrincipalResolver;
  let issuer: UserTokenIssuer;
  let audit: AuditService;

  beforeAll(async () => {
    const context = await openFeatureTestContext([ActionsModule, IdentityModule]);
    ({ moduleRef, db: handle } = context);
    actions = moduleRef.get(ActionsService);
    transactions = moduleRef.get(TransactionRunner);
    resolver = moduleRef.get(PrincipalResolver);
    issuer = moduleRef.get<UserTokenIssuer>(USER_TOKEN_ISSUER);
    audit = moduleRef.get(AuditService);
  });

  afterAll(async () => {
    await moduleRef.close();
    await handle.close();
  });

  interface Seed extends BootstrapResult {
    owner: Principal;
  }

  /** A fresh agent with its owner, resolved from the owner's real token. */
  async function seed(name = 'Forge'): Promise<Seed> {
    const result = await moduleRef.get(BootstrapService).bootstrap({ agentName: name, spaceName: 'home' });
    return { ...result, owner: await resolver.resolve(result.user_token) };
  }

  /** Another user with `role` on the agent, resolved from a token the hub issued. */
  async function userWithRole(agentId: string, role: MembershipRole): Promise<Principal> {
    const subject = `local:${randomUUID()}`;
    const user = await sql<{ user_id: string }>`INSERT INTO users (subject) VALUES (${subject}) RETURNING user_id`.execute(handle.db);
    await sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${agentId}::uuid, ${user.rows[0]!.user_id}::uuid, ${role})`.execute(handle.db);
    return resolver.resolve(await issuer.issue({ subject, email: null, displayName: null }));
  }

  async function propose(s: Seed, overrides: { kind?: string; required_scopes?: string[]; payload?: Record<string, unknown> } = {}): Promise<string> {
    const actionId = randomUUID();
    await transactions.run((tx) =>
      actions.propose(
        tx,
        {
          action_id: actionId,
          agent_id: s.agent_id,
          space_id: s.space_id,
          kind: overrides.kind ?? 'send_message',
          payload: overrides.payload ?? { to: 'Sam', text: 'the package arrived' },
          required_scopes: overrides.required_scopes ?? ['messages:send'],
          reason: 'asked in conversation',
          source_event_id: null,
        },
        { type: 'agent', id: s.agent_id },
      ),
    );
    return actionId;
  }

  async function queued(actionId: string): Promise<Array<Record<string, unknown>>> {
    const rows = await sql<{ body: Record<string, unknown> }>`
      SELECT body FROM queue_messages WHERE queue = 'actions' AND body->>'action_id' = ${actionId}`.execute(handle.db);
    return rows.rows.map((r) => r.body);
  }

  async function auditActions(agentId: string, actionId: string): Promise<Array<{ action: string; actor: { type: string; id: string }; details?: Record<string, unknown> }>> {
    const rows = await sql<{ body: string }>`SELECT body FROM audit_entries WHERE chain_id = ${agentId} ORDER BY seq`.execute(handle.db);
    return rows.rows.map((r) => JSON.parse(r.body)).filter((e) => e.subject?.type === 'action' && e.subject.id === actionId);
  }

  describe('list', () => {
    it('lists the agent’s actions newest first, filtered by status when asked', async () => {
      const s = await seed();
      const first = await propose(s);
      const second = await propose(s);
      const third = await propose(s);
      await actions.approve(s.owner, first);
      await actions.reject(s.owner, second, 'not now');

      const all = await actions.list(s.owner, { agent_id: s.agent_id });
      expect(all.actions.map((a) => a.action_id).sort()).toEqual([first, second, third].sort());
      const created = all.actions.map((a) => a.created_at);
      expect([...created].sort().reverse()).toEqual(created);

      expect((await actions.list(s.owner, { agent_id: s.agent_id, status: 'proposed' })).actions.map((a) => a.action_id)).toEqual([third]);
      expect((await actions.list(s.owner, { agent_id: s.agent_id, status: 'approved' })).actions.map((a) => a.action_id)).toEqual([first]);
      const rejected = (await actions.list(s.owner, { agent_id: s.agent_id, status: 'rejected' })).actions;
      expect(rejected.map((a) => [a.action_id, a.status])).toEqual([[second, 'rejected']]);
      expect((await actions.list(s.owner, { agent_id: s.agent_id, status: 'executed' })).actions).toEqual([]);
      expect((await actions.list(s.owner, { agent_id: s.agent_id, limit: 1 })).actions).toHaveLength(1);
    });

    it('shows one agent’s actions only to principals of that agent', async () => {
      const s = await seed();
      const other = await seed('Other');
      await propose(s);
      await propose(other);

      expect((await actions.list(other.owner, { agent_id: other.agent_id })).actions.every((a) => a.agent_id === other.agent_id)).toBe(true);
      await domainError(actions.list(other.owner, { agent_id: s.agent_id }), ErrorCode.NotFound);
    });
  });

  describe('approve', () => {
    it('by the owner: approved, approver recorded, queued once for the tool runner, audited', async () => {
      const s = await seed();
      const actionId = await propose(s);

      const view = await actions.approve(s.owner, actionId);
      expect(view).toMatchObject({ action_id: actionId, status: 'approved', approved_by: s.user_id, rejected_by: null });
      expect(view.approved_at).toEqual(expect.any(String));
      expect((await actions.get(s.owner, actionId)).status).toBe('approved');

      expect(await queued(actionId)).toEqual([{ action_id: actionId, agent_id: s.agent_id }]);
      const trail = await auditActions(s.agent_id, actionId);
      expect(trail.map((e) => e.action)).toEqual(['action.proposed', 'action.approved']);
      expect(trail[1]!.actor).toEqual({ type: 'user', id: s.user_id });
      expect(await audit.verify(s.agent_id)).toMatchObject({ ok: true });
    });

    it('twice: the second is an invalid transition (HTTP 409) and changes nothing', async () => {
      const s = await seed();
      const actionId = await propose(s);
      await actions.approve(s.owner, actionId);

      const error = await domainError(actions.approve(s.owner, actionId), ErrorCode.ActionInvalidTransition);
      expect(ERROR_HTTP_STATUS[error.code]).toBe(409);
      expect(error.details).toEqual({ from: 'approved', to: 'approved' });
      expect(await queued(actionId)).toHaveLength(1);
      expect((await auditActions(s.agent_id, actionId)).map((e) => e.action)).toEqual(['action.proposed', 'action.approved']);
    });

    it('by an admin works the same way as by the owner', async () => {
      const s = await seed();
      const admin = await userWithRole(s.agent_id, 'admin');
      const actionId = await propose(s);
      expect(await actions.approve(admin, actionId)).toMatchObject({ status: 'approved', approved_by: admin.id });
    });
  });

  describe('reject', () => {
    it('rejects a proposed action, records who did it, queues nothing; approving it afterwards is an invalid transition', async () => {
      const s = await seed();
      const actionId = await propose(s);

      const view = await actions.reject(s.owner, actionId, 'not needed');
      expect(view).toMatchObject({ status: 'rejected', rejected_by: s.user_id, approved_by: null });
      expect(view.rejected_at).toEqual(expect.any(String));
      const trail = await auditActions(s.agent_id, actionId);
      expect(trail.map((e) => e.action)).toEqual(['action.proposed', 'action.rejected']);
      expect(trail[1]!.details).toMatchObject({ reason: 'not needed' });

      await domainError(actions.approve(s.owner, actionId), ErrorCode.ActionInvalidTransition);
      await domainError(actions.reject(s.owner, actionId), ErrorCode.ActionInvalidTransition);
      expect((await actions.get(s.owner, actionId)).status).toBe('rejected');
      expect(await queued(actionId)).toEqual([]);
    });
  });

  describe('who may decide', () => {
    it('a principal without membership gets the same not_found as for an action that does not exist', async () => {
      const s = await seed();
      const outsider = await seed('Elsewhere');
      const actionId = await propose(s);
      const missingId = randomUUID();

      const forMissing = await domainError(actions.approve(outsider.owner, missingId), ErrorCode.NotFound);
      const forForeign = await domainError(actions.approve(outsider.owner, actionId), ErrorCode.NotFound);
      // Nothing about the foreign action (not even its agent) shows through.
      expect(forForeign.message).toBe(forMissing.message.replace(missingId, actionId));
      expect(forForeign.message).not.toContain(s.agent_id);

      const rejectForeign = await domainError(actions.reject(outsider.owner, actionId), ErrorCode.NotFound);
      expect(rejectForeign.message).not.toContain(s.agent_id);
      const getForeign = await domainError(actions.get(outsider.owner, actionId), ErrorCode.NotFound);
      const getMissing = await domainError(actions.get(outsider.owner, missingId), ErrorCode.NotFound);
      expect(getForeign.message).toBe(getMissing.message.replace(missingId, actionId));

      const noAgents: Principal = { type: 'user', id: outsider.user_id, agents: [] };
      await domainError(actions.approve(noAgents, actionId), ErrorCode.NotFound);
      expect((await actions.get(s.owner, actionId)).status).toBe('proposed');
    });

    it('a device may not approve or reject, even holding actions:approve', async () => {
      const s = await seed();
      const actionId = await propose(s);
      const device: Principal = { type: 'device', id: s.device_id, agents: [{ agent_id: s.agent_id, scopes: ['actions:read', 'actions:approve', 'messages:send'] }] };

      await domainError(actions.approve(device, actionId), ErrorCode.Forbidden);
      await domainError(actions.reject(device, actionId), ErrorCode.Forbidden);
      // A real device token (default scopes) is refused too.
      await domainError(actions.approve(await resolver.resolve(s.device_token), actionId), ErrorCode.Forbidden);
      expect((await actions.get(s.owner, actionId)).status).toBe('proposed');
      expect(await queued(actionId)).toEqual([]);
    });

    it('a member (no actions:approve) may not approve or reject', async () => {
      const s = await seed();
      const member = await userWithRole(s.agent_id, 'member');
      expect(member.agents).toEqual([{ agent_id: s.agent_id, scopes: ROLE_SCOPES.member }]);
      const actionId = await propose(s);

      await domainError(actions.approve(member, actionId), ErrorCode.Forbidden);
      await domainError(actions.reject(member, actionId), ErrorCode.Forbidden);
      // A member may still see it.
      expect((await actions.get(member, actionId)).status).toBe('proposed');
      expect(await queued(actionId)).toEqual([]);
    });

    it('an approver lacking a scope the action requires is forbidden, with the missing scopes in the details', async () => {
      const s = await seed();
      const admin = await userWithRole(s.agent_id, 'admin');
      const actionId = await propose(s, { required_scopes: ['messages:send', 'agents:manage'] });

      const error = await domainError(actions.approve(admin, actionId), ErrorCode.Forbidden);
      expect(error.details).toEqual({ missing_scopes: ['agents:manage'] });
      expect((await actions.get(s.owner, actionId)).status).toBe('proposed');
      expect(await queued(actionId)).toEqual([]);

      // The owner holds it and may approve.
      expect((await actions.approve(s.owner, actionId)).status).toBe('approved');
    });

    it('a required scope outside the registry can be approved by nobody', async () => {
      const s = await seed();
      const actionId = await propose(s, { kind: 'launch', required_scopes: ['rockets:launch'] });
      const error = await domainError(actions.approve(s.owner, actionId), ErrorCode.Forbidden);
      expect(error.details).toEqual({ missing_scopes: ['rockets:launch'] });
    });
  });
});
