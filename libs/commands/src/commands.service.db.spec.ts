import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ErrorCode, type CommandMessage, type Principal } from '@marvain/contracts';
import { ActionsService, ToolRegistry, ToolRunnerService } from '@marvain/actions';
import { TransactionRunner, type ActionRow, type DeviceCommandRow } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { BootstrapService, IdentityModule, PrincipalResolver } from '@marvain/identity';
import { auditActions, openFeatureTestContext, type FeatureTestContext } from '@marvain/platform/testing';
import { MaintenanceService } from '@marvain/presence';
import { AgentStream } from '@marvain/streams';
import { TestStreamPublisherModule } from '@marvain/streams/testing';
import { CommandsModule } from './commands.module';
import { CommandsService } from './commands.service';
import { DeviceLinks, type DeviceLink } from './device-link';

jest.setTimeout(60_000);

/** A device link that records what it was handed; `online` devices take it. */
class RecordingLink implements DeviceLink {
  readonly online = new Set<string>();
  readonly sent: Array<{ deviceId: string; message: CommandMessage; connectionId: string | undefined }> = [];

  send(deviceId: string, message: CommandMessage, connectionId?: string): Promise<number> {
    if (!this.online.has(deviceId)) {
      return Promise.resolve(0);
    }
    this.sent.push({ deviceId, message, connectionId });
    return Promise.resolve(1);
  }

  to(deviceId: string): CommandMessage[] {
    return this.sent.filter((s) => s.deviceId === deviceId).map((s) => s.message);
  }
}

interface Seeded {
  agent_id: string;
  space_id: string;
  device_id: string;
  owner: Principal;
  device: Principal;
}

describe(`CommandsService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let commands: CommandsService;
  let link: RecordingLink;

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, IdentityModule, CommandsModule]);
    commands = context.moduleRef.get(CommandsService);
    link = new RecordingLink();
    context.moduleRef.get(DeviceLinks).bind(link);
  });

  afterAll(() => context.close());

  async function seed(): Promise<Seeded> {
    const result = await context.moduleRef.get(BootstrapService).bootstrap({ agentName: 'Forge', spaceName: 'home' });
    const resolver = context.moduleRef.get(PrincipalResolver);
    return {
      agent_id: result.agent_id,
      space_id: result.space_id,
      device_id: result.device_id,
      owner: await resolver.resolve(result.user_token),
      device: await resolver.resolve(result.device_token),
    };
  }

  async function commandRow(commandId: string): Promise<DeviceCommandRow> {
    const rows =
      await sql<DeviceCommandRow>`SELECT * FROM device_commands WHERE command_id = ${commandId}::uuid`.execute(
        context.db.db,
      );
    return rows.rows[0]!;
  }

  async function actionRow(actionId: string): Promise<ActionRow> {
    const rows = await sql<ActionRow>`SELECT * FROM actions WHERE action_id = ${actionId}::uuid`.execute(context.db.db);
    return rows.rows[0]!;
  }

  const trail = (s: Seeded, commandId: string): Promise<string[]> =>
    auditActions(context.db.db, { agentId: s.agent_id, subjectId: commandId });

  async function streamedStatuses(s: Seeded, commandId: string): Promise<string[]> {
    const entries = await context.moduleRef.get(AgentStream).read(s.agent_id, 1);
    return entries
      .filter((e) => e.topic === 'commands.updated' && e.data['command_id'] === commandId)
      .map((e) => String(e.data['status']));
  }

  async function backdate(commandId: string): Promise<void> {
    await sql`UPDATE device_commands SET expires_at = now() - interval '1 second'
              WHERE command_id = ${commandId}::uuid`.execute(context.db.db);
  }

  /** An approved device_command action, proposed by the agent the way the planner does. */
  async function approvedDeviceCommand(s: Seeded, payload: Record<string, unknown>): Promise<string> {
    const actionId = randomUUID();
    const actions = context.moduleRef.get(ActionsService);
    await context.moduleRef.get(TransactionRunner).run((tx) =>
      actions.propose(
        tx,
        {
          action_id: actionId,
          agent_id: s.agent_id,
          space_id: s.space_id,
          kind: 'device_command',
          payload,
          required_scopes: ['devices:command'],
          reason: null,
          source_event_id: null,
        },
        { type: 'agent', id: s.agent_id },
      ),
    );
    await actions.approve(s.owner, actionId);
    return actionId;
  }

  const run = (s: Seeded, actionId: string) =>
    context.moduleRef.get(ToolRunnerService).handle({ action_id: actionId, agent_id: s.agent_id });

  describe('creating', () => {
    it('queues a command for an offline device, audited and streamed once', async () => {
      const s = await seed();
      const view = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      expect(view).toMatchObject({
        device_id: s.device_id,
        agent_id: s.agent_id,
        kind: 'ping',
        args: {},
        status: 'queued',
        requested_by: `user:${s.owner.id}`,
        action_id: null,
        sent_at: null,
      });
      const ttl = Date.parse(view.expires_at) - Date.parse(view.created_at);
      expect(ttl).toBe(300_000);
      expect(await trail(s, view.command_id)).toEqual(['device.command_sent']);
      expect(await streamedStatuses(s, view.command_id)).toEqual(['queued']);
    });

    it('sends to a connected device at once: sent, and the hand-off audited', async () => {
      const s = await seed();
      link.online.add(s.device_id);
      const view = await commands.create(s.owner, s.device_id, {
        kind: 'run_action',
        args: { name: 'uptime', args: ['-p'] },
        ttl_seconds: 30,
      });
      expect(view.status).toBe('sent');
      expect(view.sent_at).not.toBeNull();
      expect(link.to(s.device_id)).toEqual([
        {
          type: 'cmd.run_action',
          command_id: view.command_id,
          issued_at: view.created_at,
          expires_at: view.expires_at,
          args: { name: 'uptime', args: ['-p'] },
        },
      ]);
      expect(await trail(s, view.command_id)).toEqual(['device.command_sent', 'device.command_delivered']);
      expect(await streamedStatuses(s, view.command_id)).toEqual(['queued', 'sent']);
    });

    it.each([
      ['ping with an argument', 'ping', { extra: 1 }, 'args.extra'],
      ['config without settings', 'config', {}, 'args.settings'],
      ['config with settings not an object', 'config', { settings: [] }, 'args.settings'],
      ['config with settings over 16 KiB', 'config', { settings: { big: 'x'.repeat(17 * 1024) } }, 'args.settings'],
      ['run_action without a name', 'run_action', {}, 'args.name'],
      ['run_action with a name holding a space', 'run_action', { name: 'rm -rf' }, 'args.name'],
      ['run_action with a 65-character name', 'run_action', { name: 'x'.repeat(65) }, 'args.name'],
      ['run_action with args not an array', 'run_action', { name: 'ok', args: 'a b' }, 'args.args'],
      [
        'run_action with 33 args',
        'run_action',
        { name: 'ok', args: Array.from({ length: 33 }, () => 'a') },
        'args.args',
      ],
      [
        'run_action with an arg over 1024 characters',
        'run_action',
        { name: 'ok', args: ['x'.repeat(1025)] },
        'args.args',
      ],
      ['run_action with a number arg', 'run_action', { name: 'ok', args: [1] }, 'args.args'],
    ] as const)('refuses %s (%s) and writes nothing', async (_label, kind, args, field) => {
      const s = await seed();
      const refused = commands.create(s.owner, s.device_id, { kind, args: args });
      await expect(refused).rejects.toMatchObject({
        code: ErrorCode.ValidationFailed,
        details: { fields: [expect.objectContaining({ field })] },
      });
      const count = await sql<{ n: string }>`SELECT count(*) AS n FROM device_commands
        WHERE device_id = ${s.device_id}::uuid`.execute(context.db.db);
      expect(Number(count.rows[0]!.n)).toBe(0);
    });

    it("answers 404 for another agent's device, and for one that does not exist", async () => {
      const a = await seed();
      const b = await seed();
      await expect(commands.create(a.owner, b.device_id, { kind: 'ping' })).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
      await expect(commands.create(a.owner, randomUUID(), { kind: 'ping' })).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
    });

    it('refuses a revoked device with conflict', async () => {
      const s = await seed();
      await sql`UPDATE devices SET revoked_at = now() WHERE device_id = ${s.device_id}::uuid`.execute(context.db.db);
      await expect(commands.create(s.owner, s.device_id, { kind: 'ping' })).rejects.toMatchObject({
        code: ErrorCode.Conflict,
      });
    });

    it('refuses a device principal, which lacks devices:command', async () => {
      const s = await seed();
      await expect(commands.create(s.device, s.device_id, { kind: 'ping' })).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
    });
  });

  describe('delivering after a hello', () => {
    it('hands every pending, unexpired command to the connection, oldest first; queued ones become sent', async () => {
      const s = await seed();
      const first = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      const second = await commands.create(s.owner, s.device_id, { kind: 'config', args: { settings: { a: 1 } } });
      const stale = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      await backdate(stale.command_id);
      expect(await commands.hasPending(s.device_id)).toBe(true);

      link.online.add(s.device_id);
      expect(await commands.deliverPending(s.device_id, 'conn-1')).toBe(2);
      const sent = link.sent.filter((x) => x.deviceId === s.device_id);
      expect(sent.map((x) => [x.message.command_id, x.connectionId])).toEqual([
        [first.command_id, 'conn-1'],
        [second.command_id, 'conn-1'],
      ]);
      expect((await commandRow(first.command_id)).status).toBe('sent');

      // Again on the next hello (at-least-once), with no second `delivered` entry.
      expect(await commands.deliverPending(s.device_id, 'conn-2')).toBe(2);
      expect(await trail(s, first.command_id)).toEqual(['device.command_sent', 'device.command_delivered']);
    });
  });

  describe('results', () => {
    it('records a success once; a second result is a duplicate and writes nothing', async () => {
      const s = await seed();
      link.online.add(s.device_id);
      const view = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      const first = await commands.recordResult(s.device, {
        command_id: view.command_id.toUpperCase(),
        ok: true,
        result: { pong: true },
      });
      expect(first).toEqual({ command_id: view.command_id, status: 'succeeded', duplicate: false });
      const again = await commands.recordResult(s.device, {
        command_id: view.command_id,
        ok: false,
        error: { code: 'x', message: 'y' },
      });
      expect(again).toEqual({ command_id: view.command_id, status: 'succeeded', duplicate: true });

      const row = await commandRow(view.command_id);
      expect(row).toMatchObject({ status: 'succeeded', result: { pong: true }, error: null });
      expect(row.completed_at).not.toBeNull();
      expect(await trail(s, view.command_id)).toEqual([
        'device.command_sent',
        'device.command_delivered',
        'device.command_result',
      ]);
      expect(await streamedStatuses(s, view.command_id)).toEqual(['queued', 'sent', 'succeeded']);
    });

    it('records a failure with its error, even for a command still queued', async () => {
      const s = await seed();
      const view = await commands.create(s.owner, s.device_id, { kind: 'run_action', args: { name: 'nope' } });
      const outcome = await commands.recordResult(s.device, {
        command_id: view.command_id,
        ok: false,
        error: { code: 'command_not_allowed', message: 'nope is not listed' },
      });
      expect(outcome.status).toBe('failed');
      expect(await commandRow(view.command_id)).toMatchObject({
        status: 'failed',
        error: { code: 'command_not_allowed', message: 'nope is not listed' },
        result: null,
      });
    });

    it("answers not_found to a device answering another device's command, and to a user", async () => {
      const a = await seed();
      const b = await seed();
      const view = await commands.create(a.owner, a.device_id, { kind: 'ping' });
      await expect(commands.recordResult(b.device, { command_id: view.command_id, ok: true })).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
      await expect(commands.recordResult(a.device, { command_id: randomUUID(), ok: true })).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
      await expect(commands.recordResult(a.owner, { command_id: view.command_id, ok: true })).rejects.toMatchObject({
        code: ErrorCode.Forbidden,
      });
      expect((await commandRow(view.command_id)).status).toBe('queued');
    });

    it('refuses a result whose ok and error disagree', async () => {
      const s = await seed();
      const view = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      await expect(commands.recordResult(s.device, { command_id: view.command_id, ok: false })).rejects.toMatchObject({
        code: ErrorCode.ValidationFailed,
      });
      await expect(
        commands.recordResult(s.device, { command_id: view.command_id, ok: true, error: { code: 'a', message: 'b' } }),
      ).rejects.toMatchObject({ code: ErrorCode.ValidationFailed });
    });
  });

  describe('expiry', () => {
    it('expires queued commands as device_offline and sent ones as device_timeout; a late result changes nothing', async () => {
      const s = await seed();
      const offline = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      link.online.add(s.device_id);
      const silent = await commands.create(s.owner, s.device_id, { kind: 'ping' });
      link.online.delete(s.device_id);
      await backdate(offline.command_id);
      await backdate(silent.command_id);

      const result = await context.moduleRef.get(MaintenanceService).run();
      expect(result.commands_expired).toBeGreaterThanOrEqual(2);
      expect(await commandRow(offline.command_id)).toMatchObject({
        status: 'expired',
        error: { code: 'device_offline' },
      });
      expect(await commandRow(silent.command_id)).toMatchObject({
        status: 'expired',
        error: { code: 'device_timeout' },
      });
      expect(await trail(s, silent.command_id)).toEqual([
        'device.command_sent',
        'device.command_delivered',
        'device.command_expired',
      ]);

      const late = await commands.recordResult(s.device, { command_id: silent.command_id, ok: true });
      expect(late).toEqual({ command_id: silent.command_id, status: 'expired', duplicate: false });
      expect(await trail(s, silent.command_id)).toHaveLength(3);

      // A second run finds nothing more to expire for them.
      await context.moduleRef.get(MaintenanceService).run();
      expect(await trail(s, offline.command_id)).toEqual(['device.command_sent', 'device.command_expired']);
    });
  });

  describe('the device_command tool', () => {
    it('is registered with the runner', () => {
      expect(context.moduleRef.get(ToolRegistry).get('device_command')?.requiredScopes).toEqual(['devices:command']);
    });

    it('sends the command and leaves the action executing until the device answers; then executed with the result', async () => {
      const s = await seed();
      link.online.add(s.device_id);
      const actionId = await approvedDeviceCommand(s, {
        device_id: s.device_id,
        command: 'run_action',
        args: { name: 'uptime' },
      });
      expect(await run(s, actionId)).toBe('deferred');
      expect((await actionRow(actionId)).status).toBe('executing');

      // A redelivered action finds its command: one command, one message more (at-least-once).
      expect(await run(s, actionId)).toBe('deferred');
      const rows =
        await sql<DeviceCommandRow>`SELECT * FROM device_commands WHERE action_id = ${actionId}::uuid`.execute(
          context.db.db,
        );
      expect(rows.rows).toHaveLength(1);
      const command = rows.rows[0]!;
      expect(command).toMatchObject({ requested_by: `action:${actionId}`, status: 'sent', kind: 'run_action' });
      expect(Date.parse(String(command.expires_at)) - Date.parse(String(command.created_at))).toBe(60_000);
      expect(await trail(s, command.command_id)).toEqual(['device.command_sent', 'device.command_delivered']);

      await commands.recordResult(s.device, {
        command_id: command.command_id,
        ok: true,
        result: { exit_code: 0, stdout: 'up' },
      });
      const action = await actionRow(actionId);
      expect(action.status).toBe('executed');
      expect(action.result).toEqual({ result: { exit_code: 0, stdout: 'up' }, command_id: command.command_id });
      expect(await auditActions(context.db.db, { agentId: s.agent_id, subjectId: actionId })).toEqual([
        'action.proposed',
        'action.approved',
        'action.executing',
        'action.executed',
      ]);
      // The queue's redelivery after completion does nothing.
      expect(await run(s, actionId)).toBe('already-finished');
    });

    it("fails the action with the device's error", async () => {
      const s = await seed();
      const actionId = await approvedDeviceCommand(s, {
        device_id: s.device_id,
        command: 'run_action',
        args: { name: 'x' },
      });
      expect(await run(s, actionId)).toBe('deferred');
      const command = (
        await sql<DeviceCommandRow>`SELECT * FROM device_commands WHERE action_id = ${actionId}::uuid`.execute(
          context.db.db,
        )
      ).rows[0]!;
      await commands.recordResult(s.device, {
        command_id: command.command_id,
        ok: false,
        error: { code: 'command_not_allowed', message: 'x is not listed' },
      });
      expect(await actionRow(actionId)).toMatchObject({
        status: 'failed',
        error: 'command_not_allowed: x is not listed',
      });
    });

    it('fails the action with device_offline when the command expires undelivered', async () => {
      const s = await seed();
      const actionId = await approvedDeviceCommand(s, {
        device_id: s.device_id,
        command: 'ping',
        timeout_seconds: 5,
      });
      expect(await run(s, actionId)).toBe('deferred');
      await sql`UPDATE device_commands SET expires_at = now() - interval '1 second'
                WHERE action_id = ${actionId}::uuid`.execute(context.db.db);
      await context.moduleRef.get(MaintenanceService).run();
      const action = await actionRow(actionId);
      expect(action.status).toBe('failed');
      expect(action.error).toMatch(/^device_offline: the device did not connect before /);
    });

    it("fails at once for another agent's device, an unknown one, or bad args", async () => {
      const a = await seed();
      const b = await seed();
      for (const payload of [
        { device_id: b.device_id, command: 'ping' },
        { device_id: randomUUID(), command: 'ping' },
        { device_id: a.device_id, command: 'reboot' },
        { device_id: a.device_id, command: 'run_action', args: { name: 'a b' } },
        { device_id: a.device_id, command: 'ping', timeout_seconds: 3601 },
      ]) {
        const actionId = await approvedDeviceCommand(a, payload);
        expect(await run(a, actionId)).toBe('failed');
        expect((await actionRow(actionId)).status).toBe('failed');
      }
      const count = await sql<{ n: string }>`SELECT count(*) AS n FROM device_commands
        WHERE agent_id = ${a.agent_id}::uuid OR device_id = ${b.device_id}::uuid`.execute(context.db.db);
      expect(Number(count.rows[0]!.n)).toBe(0);
    });
  });
});
