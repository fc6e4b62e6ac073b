import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { EventTypes, type StreamEntry } from '@marvain/contracts';
import type { ActionRow } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { auditActions, openFeatureTestContext, type FeatureTestContext } from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import { IdentityModule } from '@marvain/identity';
import { PoisonMessageError } from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import { recordPublished, TestStreamPublisherModule } from '@marvain/streams/testing';
import { ActionsModule } from './actions.module';
import { ActionsRepository } from './actions.repository';
import { ActionsService } from './actions.service';
import { ToolRunnerConsumer } from './tool-runner.consumer';
import { ActionNotReadyError, ToolRunnerService } from './tool-runner.service';
import { proposeAction, seedAgent, type ProposalOverrides, type SeededAgent } from './testing';
import { ToolRegistry } from './tools/tool';

jest.setTimeout(60_000);

describe(`ToolRunnerService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let actions: ActionsService;
  let runner: ToolRunnerService;
  let audit: AuditService;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, ActionsModule, IdentityModule]);
    actions = context.moduleRef.get(ActionsService);
    runner = context.moduleRef.get(ToolRunnerService);
    audit = context.moduleRef.get(AuditService);
  });

  afterAll(() => context.close());

  const seed = (): Promise<SeededAgent> => seedAgent(context.moduleRef);

  const propose = (s: SeededAgent, overrides: ProposalOverrides = {}): Promise<string> =>
    proposeAction(context.moduleRef, s, overrides);

  async function approved(s: SeededAgent, overrides: ProposalOverrides = {}): Promise<string> {
    const actionId = await propose(s, overrides);
    await actions.approve(s.owner, actionId);
    return actionId;
  }

  async function actionRow(actionId: string): Promise<ActionRow> {
    const rows = await sql<ActionRow>`SELECT * FROM actions WHERE action_id = ${actionId}::uuid`.execute(context.db.db);
    return rows.rows[0]!;
  }

  async function outbound(
    spaceId: string,
    actionId: string,
  ): Promise<Array<{ event_id: string; space_id: string; payload: Record<string, unknown> }>> {
    const rows = await sql<{ event_id: string; space_id: string; payload: Record<string, unknown> }>`
      SELECT event_id, space_id, payload FROM events
      WHERE type = ${EventTypes.MessageOutbound} AND payload->>'action_id' = ${actionId}`.execute(context.db.db);
    expect(rows.rows.every((r) => r.space_id === spaceId)).toBe(true);
    return rows.rows;
  }

  const auditTrail = (agentId: string, actionId: string): Promise<string[]> =>
    auditActions(context.db.db, { agentId, subjectId: actionId });

  const ref = (s: SeededAgent, actionId: string) => ({ action_id: actionId, agent_id: s.agent_id });

  /** The agent's stream entries about the action: its status changes and the messages it sent. */
  async function streamed(s: SeededAgent, actionId: string): Promise<StreamEntry[]> {
    const entries = await context.moduleRef.get(AgentStream).read(s.agent_id, 1);
    return entries.filter((e) => {
      const payload = e.data['payload'] as Record<string, unknown> | undefined;
      return e.data['action_id'] === actionId || payload?.['action_id'] === actionId;
    });
  }

  it('executes an approved send_message: one outbound message event in the space, result recorded', async () => {
    const s = await seed();
    const actionId = await approved(s);

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('executed');

    const row = await actionRow(actionId);
    expect(row.status).toBe('executed');
    expect(row.completed_at).not.toBeNull();
    expect(row.error).toBeNull();
    const events = await outbound(s.space_id, actionId);
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toEqual({ to: 'Sam', text: 'the package arrived', action_id: actionId });
    expect(row.result).toMatchObject({ message_event_id: events[0]!.event_id, to: 'Sam' });
    expect(await auditTrail(s.agent_id, actionId)).toEqual([
      'action.proposed',
      'action.approved',
      'action.executing',
      'action.executed',
    ]);
  });

  it('runs what approval queued, through the queue consumer, and leaves the queue empty', async () => {
    const s = await seed();
    const actionId = await approved(s);
    const consumer = context.moduleRef.get(ToolRunnerConsumer);

    // Earlier tests leave their approvals queued; drain until this action has run.
    while ((await consumer.drainOnce()) > 0) {
      // drain
    }

    expect((await actionRow(actionId)).status).toBe('executed');
    expect(await outbound(s.space_id, actionId)).toHaveLength(1);
    const left = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM queue_messages WHERE queue = 'actions'`.execute(context.db.db);
    expect(left.rows[0]!.n).toBe(0);
  });

  it('treats a redelivery of a finished action as already finished and does not send again', async () => {
    const s = await seed();
    const actionId = await approved(s);
    await runner.handle(ref(s, actionId));
    const before = await actionRow(actionId);

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('already-finished');
    await expect(runner.handle(ref(s, actionId))).resolves.toBe('already-finished');

    expect(await outbound(s.space_id, actionId)).toHaveLength(1);
    const after = await actionRow(actionId);
    expect(after.status).toBe('executed');
    expect(after.result).toEqual(before.result);
    expect((await auditTrail(s.agent_id, actionId)).filter((a) => a === 'action.executed')).toHaveLength(1);
  });

  it('completes an action left executing by a crash before its tool ran, on redelivery', async () => {
    const s = await seed();
    const actionId = await approved(s);
    await sql`UPDATE actions SET status = 'executing' WHERE action_id = ${actionId}::uuid`.execute(context.db.db);

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('executed');
    expect((await actionRow(actionId)).status).toBe('executed');
    expect(await outbound(s.space_id, actionId)).toHaveLength(1);
  });

  it('completes an action left executing by a crash after its tool ran, without sending twice', async () => {
    const s = await seed();
    const actionId = await approved(s);
    // The tool ran (the message went out), then the process died before recording the result.
    const sendMessage = context.moduleRef.get(ToolRegistry).get('send_message')!;
    await sql`UPDATE actions SET status = 'executing' WHERE action_id = ${actionId}::uuid`.execute(context.db.db);
    const firstResult = await sendMessage.execute(await actionRow(actionId));

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('executed');

    const row = await actionRow(actionId);
    expect(row.status).toBe('executed');
    expect(row.result).toMatchObject({
      message_event_id: (firstResult as Record<string, unknown>)['message_event_id'],
    });
    expect(await outbound(s.space_id, actionId)).toHaveLength(1);
  });

  it('fails the action instead of executing it when the approver lost their membership', async () => {
    const s = await seed();
    const actionId = await approved(s);
    await sql`UPDATE agent_memberships SET revoked_at = now() WHERE user_id = ${s.user_id}::uuid AND agent_id = ${s.agent_id}::uuid`.execute(
      context.db.db,
    );

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('failed');

    const row = await actionRow(actionId);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/approver/);
    expect(row.completed_at).not.toBeNull();
    expect(await outbound(s.space_id, actionId)).toEqual([]);
    expect(await auditTrail(s.agent_id, actionId)).toEqual(['action.proposed', 'action.approved', 'action.failed']);
    // A redelivery does not resurrect it.
    await expect(runner.handle(ref(s, actionId))).resolves.toBe('already-finished');
  });

  it('fails the action when the approver’s agent has been disabled', async () => {
    const s = await seed();
    const actionId = await approved(s);
    await sql`UPDATE agents SET disabled = true WHERE agent_id = ${s.agent_id}::uuid`.execute(context.db.db);

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('failed');
    expect(await outbound(s.space_id, actionId)).toEqual([]);
  });

  it('fails an action of a kind no tool runs, naming the kind', async () => {
    const s = await seed();
    const actionId = await approved(s, { kind: 'teleport', payload: { where: 'moon' }, required_scopes: [] });

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('failed');
    const row = await actionRow(actionId);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/teleport/);
  });

  it('fails a send_message whose payload the tool refuses, recording the tool’s reason', async () => {
    const s = await seed();
    const actionId = await approved(s, { payload: { to: 'Sam' } });

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('failed');
    expect((await actionRow(actionId)).error).toMatch(/payload\.text/);
    expect(await outbound(s.space_id, actionId)).toEqual([]);
  });

  it('rejects malformed references as poison, and retries references to actions not (yet) visible as approved', async () => {
    const s = await seed();
    await expect(runner.handle({ action_id: 'not-a-uuid', agent_id: s.agent_id })).rejects.toBeInstanceOf(
      PoisonMessageError,
    );
    await expect(runner.handle(null)).rejects.toBeInstanceOf(PoisonMessageError);

    // SQS may deliver the approval's message before its transaction commits: a missing or still
    // proposed action is a transient condition (retried, then dead-lettered by the queue), never dropped.
    await expect(runner.handle(ref(s, randomUUID()))).rejects.toBeInstanceOf(ActionNotReadyError);
    const proposedId = await propose(s);
    await expect(runner.handle(ref(s, proposedId))).rejects.toBeInstanceOf(ActionNotReadyError);
    expect((await actionRow(proposedId)).status).toBe('proposed');
    expect(await outbound(s.space_id, proposedId)).toEqual([]);
  });

  it('does not execute a rejected action', async () => {
    const s = await seed();
    const actionId = await propose(s);
    await actions.reject(s.owner, actionId);

    await expect(runner.handle(ref(s, actionId))).resolves.toBe('already-finished');
    expect((await actionRow(actionId)).status).toBe('rejected');
    expect(await outbound(s.space_id, actionId)).toEqual([]);
  });

  it('audits every status change it makes exactly once, on every path', async () => {
    const repository = context.moduleRef.get(ActionsRepository);
    const paths: Array<{ what: string; prepare: (s: SeededAgent) => Promise<string> }> = [
      { what: 'executed', prepare: (s) => approved(s) },
      { what: 'tool refuses the payload', prepare: (s) => approved(s, { payload: { to: 'Sam' } }) },
      {
        what: 'no tool for the kind',
        prepare: (s) => approved(s, { kind: 'teleport', payload: { where: 'moon' }, required_scopes: [] }),
      },
      {
        what: 'approver lost membership',
        prepare: async (s) => {
          const actionId = await approved(s);
          await sql`UPDATE agent_memberships SET revoked_at = now() WHERE user_id = ${s.user_id}::uuid AND agent_id = ${s.agent_id}::uuid`.execute(
            context.db.db,
          );
          return actionId;
        },
      },
    ];
    for (const path of paths) {
      const s = await seed();
      const actionId = await path.prepare(s);
      const update = jest.spyOn(repository, 'update');
      try {
        await runner.handle(ref(s, actionId));
        await runner.handle(ref(s, actionId));
        const changes = update.mock.calls.filter(([id]) => id === actionId).map(([, patch]) => patch.status);
        const audited = (await auditTrail(s.agent_id, actionId))
          .slice(2) // proposed and approved: not the runner's
          .map((entry) => entry.replace(/^action\./, ''));
        expect({ path: path.what, audited }).toEqual({ path: path.what, audited: changes });
      } finally {
        update.mockRestore();
      }
    }
  });

  it('leaves a chain that verifies after all of the above, with executing before executed', async () => {
    const s = await seed();
    const actionId = await approved(s);
    await runner.handle(ref(s, actionId));
    await runner.handle(ref(s, actionId));

    const trail = await auditTrail(s.agent_id, actionId);
    expect(trail.indexOf('action.executing')).toBeGreaterThan(-1);
    expect(trail.indexOf('action.executing')).toBeLessThan(trail.indexOf('action.executed'));

    const agents = await sql<{ agent_id: string }>`SELECT agent_id FROM agents`.execute(context.db.db);
    expect(agents.rows.length).toBeGreaterThan(5);
    for (const { agent_id } of agents.rows) {
      expect(await audit.verify(agent_id)).toMatchObject({ ok: true });
    }
  });

  describe('the stream', () => {
    it('writes every status change as actions.updated carrying the stored action, and the message it sent as events.new', async () => {
      const s = await seed();
      const actionId = await approved(s);
      const published = recordPublished(context.moduleRef);

      await expect(runner.handle(ref(s, actionId))).resolves.toBe('executed');
      published.stop();

      const entries = await streamed(s, actionId);
      expect(entries.map((e) => [e.topic, e.space_id, e.data['status'] ?? e.data['type']])).toEqual([
        ['actions.updated', s.space_id, 'proposed'],
        ['actions.updated', s.space_id, 'approved'],
        ['actions.updated', s.space_id, 'executing'],
        ['events.new', s.space_id, EventTypes.MessageOutbound],
        ['actions.updated', s.space_id, 'executed'],
      ]);
      const [message] = await outbound(s.space_id, actionId);
      expect(entries[3]!.data).toMatchObject({ event_id: message!.event_id, payload: message!.payload });
      const executed = entries[4]!.data;
      const row = await actionRow(actionId);
      expect(executed).toMatchObject({ status: 'executed', result: row.result, error: null });
      expect(executed['completed_at']).toBe(row.completed_at!.toISOString());
      expect(published.entries).toEqual(entries.slice(2));
    });

    it('writes the failure when the action fails, and nothing more for a redelivery of a finished action', async () => {
      const s = await seed();
      const actionId = await approved(s, { kind: 'teleport', payload: { where: 'moon' }, required_scopes: [] });

      await expect(runner.handle(ref(s, actionId))).resolves.toBe('failed');
      await expect(runner.handle(ref(s, actionId))).resolves.toBe('already-finished');

      const entries = await streamed(s, actionId);
      expect(entries.map((e) => e.data['status'])).toEqual(['proposed', 'approved', 'failed']);
      expect(entries[2]!.data['error']).toMatch(/teleport/);
    });

    it('writes one message however often a crashed run is redelivered', async () => {
      const s = await seed();
      const actionId = await approved(s);
      await sql`UPDATE actions SET status = 'executing' WHERE action_id = ${actionId}::uuid`.execute(context.db.db);
      const sendMessage = context.moduleRef.get(ToolRegistry).get('send_message')!;
      await sendMessage.execute(await actionRow(actionId));

      await expect(runner.handle(ref(s, actionId))).resolves.toBe('executed');
      await expect(runner.handle(ref(s, actionId))).resolves.toBe('already-finished');

      const entries = await streamed(s, actionId);
      expect(entries.filter((e) => e.topic === 'events.new')).toHaveLength(1);
      expect(entries.filter((e) => e.topic === 'actions.updated').map((e) => e.data['status'])).toEqual([
        'proposed',
        'approved',
        'executed',
      ]);
    });
  });
});
