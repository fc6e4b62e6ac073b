import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import {
  ERROR_HTTP_STATUS,
  ErrorCode,
  ROLE_SCOPES,
  type MembershipRole,
  type Principal,
  type StreamEntry,
} from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import {
  auditEntries,
  insertMember,
  openFeatureTestContext,
  refused,
  type AuditEntryBody,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import { IdentityModule, PrincipalResolver, USER_TOKEN_ISSUER, type UserTokenIssuer } from '@marvain/identity';
import { AgentStream } from '@marvain/streams';
import { recordPublished, TestStreamPublisherModule } from '@marvain/streams/testing';
import { ActionsModule } from './actions.module';
import { ActionsService } from './actions.service';
import { proposeAction, seedAgent, type ProposalOverrides, type SeededAgent } from './testing';

jest.setTimeout(60_000);

describe(`ActionsService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let actions: ActionsService;
  let resolver: PrincipalResolver;
  let issuer: UserTokenIssuer;
  let audit: AuditService;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, ActionsModule, IdentityModule]);
    actions = context.moduleRef.get(ActionsService);
    resolver = context.moduleRef.get(PrincipalResolver);
    issuer = context.moduleRef.get<UserTokenIssuer>(USER_TOKEN_ISSUER);
    audit = context.moduleRef.get(AuditService);
  });

  afterAll(() => context.close());

  const seed = (name?: string): Promise<SeededAgent> => seedAgent(context.moduleRef, name);

  /** Another user with `role` on the agent, resolved from a token the hub issued. */
  async function userWithRole(agentId: string, role: MembershipRole): Promise<Principal> {
    const { subject } = await insertMember(context.db.db, agentId, role);
    return resolver.resolve(await issuer.issue({ subject, email: null, displayName: null }));
  }

  const propose = (s: SeededAgent, overrides: ProposalOverrides = {}): Promise<string> =>
    proposeAction(context.moduleRef, s, { reason: 'asked in conversation', ...overrides });

  async function queued(actionId: string): Promise<Array<Record<string, unknown>>> {
    const rows = await sql<{ body: Record<string, unknown> }>`
      SELECT body FROM queue_messages WHERE queue = 'actions' AND body->>'action_id' = ${actionId}`.execute(
      context.db.db,
    );
    return rows.rows.map((r) => r.body);
  }

  async function actionAudit(agentId: string, actionId: string): Promise<AuditEntryBody[]> {
    return (await auditEntries(context.db.db, { agentId, subjectId: actionId })).filter(
      (e) => e.subject?.type === 'action',
    );
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

      expect(
        (await actions.list(s.owner, { agent_id: s.agent_id, status: 'proposed' })).actions.map((a) => a.action_id),
      ).toEqual([third]);
      expect(
        (await actions.list(s.owner, { agent_id: s.agent_id, status: 'approved' })).actions.map((a) => a.action_id),
      ).toEqual([first]);
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

      expect(
        (await actions.list(other.owner, { agent_id: other.agent_id })).actions.every(
          (a) => a.agent_id === other.agent_id,
        ),
      ).toBe(true);
      await refused(actions.list(other.owner, { agent_id: s.agent_id }), ErrorCode.NotFound);
    });
  });

  describe('approve', () => {
    it('by the owner: approved, approver recorded, queued once for the tool runner, audited', async () => {
      const s = await seed();
      const actionId = await propose(s);

      const view = await actions.approve(s.owner, actionId);
      expect(view).toMatchObject({
        action_id: actionId,
        status: 'approved',
        approved_by: s.user_id,
        rejected_by: null,
      });
      expect(view.approved_at).toEqual(expect.any(String));
      expect((await actions.get(s.owner, actionId)).status).toBe('approved');

      expect(await queued(actionId)).toEqual([{ action_id: actionId, agent_id: s.agent_id }]);
      const trail = await actionAudit(s.agent_id, actionId);
      expect(trail.map((e) => e.action)).toEqual(['action.proposed', 'action.approved']);
      expect(trail[1]!.actor).toEqual({ type: 'user', id: s.user_id });
      expect(await audit.verify(s.agent_id)).toMatchObject({ ok: true });
    });

    it('twice: the second is an invalid transition (HTTP 409) and changes nothing', async () => {
      const s = await seed();
      const actionId = await propose(s);
      await actions.approve(s.owner, actionId);

      const error = await refused(actions.approve(s.owner, actionId), ErrorCode.ActionInvalidTransition);
      expect(ERROR_HTTP_STATUS[error.code]).toBe(409);
      expect(error.details).toEqual({ from: 'approved', to: 'approved' });
      expect(await queued(actionId)).toHaveLength(1);
      expect((await actionAudit(s.agent_id, actionId)).map((e) => e.action)).toEqual([
        'action.proposed',
        'action.approved',
      ]);
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
      const trail = await actionAudit(s.agent_id, actionId);
      expect(trail.map((e) => e.action)).toEqual(['action.proposed', 'action.rejected']);
      expect(trail[1]!.details).toMatchObject({ reason: 'not needed' });

      await refused(actions.approve(s.owner, actionId), ErrorCode.ActionInvalidTransition);
      await refused(actions.reject(s.owner, actionId), ErrorCode.ActionInvalidTransition);
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

      const forMissing = await refused(actions.approve(outsider.owner, missingId), ErrorCode.NotFound);
      const forForeign = await refused(actions.approve(outsider.owner, actionId), ErrorCode.NotFound);
      // Nothing about the foreign action (not even its agent) shows through.
      expect(forForeign.message).toBe(forMissing.message.replace(missingId, actionId));
      expect(forForeign.message).not.toContain(s.agent_id);

      const rejectForeign = await refused(actions.reject(outsider.owner, actionId), ErrorCode.NotFound);
      expect(rejectForeign.message).not.toContain(s.agent_id);
      const getForeign = await refused(actions.get(outsider.owner, actionId), ErrorCode.NotFound);
      const getMissing = await refused(actions.get(outsider.owner, missingId), ErrorCode.NotFound);
      expect(getForeign.message).toBe(getMissing.message.replace(missingId, actionId));

      const noAgents: Principal = { type: 'user', id: outsider.user_id, agents: [] };
      await refused(actions.approve(noAgents, actionId), ErrorCode.NotFound);
      expect((await actions.get(s.owner, actionId)).status).toBe('proposed');
    });

    it('a device may not approve or reject, even holding actions:approve', async () => {
      const s = await seed();
      const actionId = await propose(s);
      const device: Principal = {
        type: 'device',
        id: s.device_id,
        agents: [{ agent_id: s.agent_id, scopes: ['actions:read', 'actions:approve', 'messages:send'] }],
      };

      await refused(actions.approve(device, actionId), ErrorCode.Forbidden);
      await refused(actions.reject(device, actionId), ErrorCode.Forbidden);
      // A real device token (default scopes) is refused too.
      await refused(actions.approve(await resolver.resolve(s.device_token), actionId), ErrorCode.Forbidden);
      expect((await actions.get(s.owner, actionId)).status).toBe('proposed');
      expect(await queued(actionId)).toEqual([]);
    });

    it('a member (no actions:approve) may not approve or reject', async () => {
      const s = await seed();
      const member = await userWithRole(s.agent_id, 'member');
      expect(member.agents).toEqual([{ agent_id: s.agent_id, scopes: ROLE_SCOPES.member }]);
      const actionId = await propose(s);

      await refused(actions.approve(member, actionId), ErrorCode.Forbidden);
      await refused(actions.reject(member, actionId), ErrorCode.Forbidden);
      // A member may still see it.
      expect((await actions.get(member, actionId)).status).toBe('proposed');
      expect(await queued(actionId)).toEqual([]);
    });

    it('an approver lacking a scope the action requires is forbidden, with the missing scopes in the details', async () => {
      const s = await seed();
      const admin = await userWithRole(s.agent_id, 'admin');
      const actionId = await propose(s, { required_scopes: ['messages:send', 'agents:manage'] });

      const error = await refused(actions.approve(admin, actionId), ErrorCode.Forbidden);
      expect(error.details).toEqual({ missing_scopes: ['agents:manage'] });
      expect((await actions.get(s.owner, actionId)).status).toBe('proposed');
      expect(await queued(actionId)).toEqual([]);

      // The owner holds it and may approve.
      expect((await actions.approve(s.owner, actionId)).status).toBe('approved');
    });

    it('a required scope outside the registry can be approved by nobody', async () => {
      const s = await seed();
      const actionId = await propose(s, { kind: 'launch', required_scopes: ['rockets:launch'] });
      const error = await refused(actions.approve(s.owner, actionId), ErrorCode.Forbidden);
      expect(error.details).toEqual({ missing_scopes: ['rockets:launch'] });
    });
  });

  describe('the actions.updated stream', () => {
    /** The action's entries on its agent's stream, oldest first. */
    async function actionEntries(agentId: string, actionId: string): Promise<StreamEntry[]> {
      const entries = await context.moduleRef.get(AgentStream).read(agentId, 1, { topics: ['actions.updated'] });
      return entries.filter((e) => e.data['action_id'] === actionId);
    }

    it('writes the proposal and each decision as the action’s view, in its space, published once committed', async () => {
      const s = await seed();
      const published = recordPublished(context.moduleRef);

      const actionId = await propose(s);
      const proposed = await actions.get(s.owner, actionId);
      const approved = await actions.approve(s.owner, actionId);
      published.stop();

      const entries = await actionEntries(s.agent_id, actionId);
      expect(entries.map((e) => [e.topic, e.space_id, e.data])).toEqual([
        ['actions.updated', s.space_id, proposed],
        ['actions.updated', s.space_id, approved],
      ]);
      expect(entries[1]!.seq).toBe(entries[0]!.seq + 1);
      expect(published.entries.filter((e) => e.data['action_id'] === actionId)).toEqual(entries);

      const rejectedId = await propose(s);
      const beforeRejection = await actions.get(s.owner, rejectedId);
      const rejected = await actions.reject(s.owner, rejectedId, 'not now');
      expect((await actionEntries(s.agent_id, rejectedId)).map((e) => e.data)).toEqual([beforeRejection, rejected]);
    });

    it('writes nothing for a refused decision, a repeated proposal or a proposal whose transaction rolls back', async () => {
      const s = await seed();
      const transactions = context.moduleRef.get(TransactionRunner);
      const actionId = await propose(s);
      await actions.reject(s.owner, actionId);
      await refused(actions.approve(s.owner, actionId), ErrorCode.ActionInvalidTransition);
      expect((await actionEntries(s.agent_id, actionId)).map((e) => e.data['status'])).toEqual([
        'proposed',
        'rejected',
      ]);

      const proposal = {
        action_id: randomUUID(),
        agent_id: s.agent_id,
        space_id: null,
        kind: 'send_message',
        payload: { to: 'Sam', text: 'hi' },
        required_scopes: ['messages:send'],
        reason: null,
        source_event_id: null,
      };
      const actor = { type: 'agent' as const, id: s.agent_id };
      expect(await transactions.run((tx) => actions.propose(tx, proposal, actor))).toBe(true);
      expect(await transactions.run((tx) => actions.propose(tx, proposal, actor))).toBe(false);
      const agentWide = await actionEntries(s.agent_id, proposal.action_id);
      expect(agentWide).toHaveLength(1);
      // An action without a space is agent-wide on the stream.
      expect(agentWide[0]!.space_id).toBeNull();

      const published = recordPublished(context.moduleRef);
      const rolledBack = { ...proposal, action_id: randomUUID() };
      await expect(
        transactions.run(async (tx) => {
          await actions.propose(tx, rolledBack, actor);
          throw new Error('the planner run failed after proposing');
        }),
      ).rejects.toThrow('the planner run failed');
      published.stop();
      expect(await actionEntries(s.agent_id, rolledBack.action_id)).toEqual([]);
      expect(published.entries).toEqual([]);
    });
  });
});
