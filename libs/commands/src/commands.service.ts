import { Inject, Injectable } from '@nestjs/common';
import {
  CommandErrorCode,
  DEFAULT_COMMAND_TTL_SECONDS,
  DomainError,
  ErrorCode,
  type CommandError,
  type CommandMessage,
  type CommandStatus,
  type DeviceCommandKind,
  type Principal,
} from '@marvain/contracts';
import { TransactionRunner, type DeviceCommandRow, type Tx } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { ToolRunnerService } from '@marvain/actions';
import {
  assertAgentScope,
  fieldError,
  IDS,
  LoggerFactory,
  nextCursor,
  pageRequest,
  type HubLogger,
  type Ids,
} from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import type { CommandResultMessage, DeviceCommandList, DeviceCommandView, ListCommandsQuery } from './commands.dto';
import { CommandsRepository, type CommandDeviceRow } from './commands.repository';
import { DeviceLinks } from './device-link';

/** run_action: a name the device's operator listed. */
const ACTION_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const RUN_ACTION_MAX_ARGS = 32;
const RUN_ACTION_ARG_MAX_CHARS = 1024;
const CONFIG_SETTINGS_MAX_BYTES = 16 * 1024;
/** Commands one hello redelivers at most (oldest first); the rest follow the next hello. */
export const PENDING_DELIVERY_LIMIT = 100;
/**
 * Commands one device may have waiting (queued or sent, unexpired). A device that stays away
 * cannot make the table grow without bound: past this, new commands are refused until some
 * are answered or expire.
 */
export const MAX_PENDING_COMMANDS_PER_DEVICE = 1000;
/** Commands one maintenance run expires per batch, and batches per run. */
const EXPIRY_BATCH = 100;
const EXPIRY_BATCHES_PER_RUN = 10;

const FINISHED: readonly string[] = ['succeeded', 'failed', 'expired'];

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function toCommandView(row: DeviceCommandRow): DeviceCommandView {
  return {
    command_id: row.command_id,
    agent_id: row.agent_id,
    device_id: row.device_id,
    kind: row.kind as DeviceCommandKind,
    args: row.args,
    status: row.status as CommandStatus,
    action_id: row.action_id,
    requested_by: row.requested_by,
    created_at: row.created_at.toISOString(),
    sent_at: iso(row.sent_at),
    completed_at: iso(row.completed_at),
    expires_at: row.expires_at.toISOString(),
    result: row.result,
    error: row.error,
  };
}

/** The message a device is sent for a command. */
export function toCommandMessage(row: DeviceCommandRow): CommandMessage {
  return {
    type: `cmd.${row.kind}`,
    command_id: row.command_id,
    issued_at: row.created_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    args: row.args,
  } as CommandMessage;
}

/**
 * A command's args checked for its kind; the stored form (ping: `{}`). Throws `validation_failed`
 * naming the field.
 */
export function validateCommandArgs(
  kind: DeviceCommandKind,
  args: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const given = args ?? {};
  const unknown = (allowed: string[]): void => {
    const extra = Object.keys(given).find((key) => !allowed.includes(key));
    if (extra !== undefined) {
      throw fieldError(`args.${extra.slice(0, 64)}`, `${kind} takes no argument ${extra.slice(0, 64)}`);
    }
  };
  switch (kind) {
    case 'ping':
      unknown([]);
      return {};
    case 'config': {
      unknown(['settings']);
      const settings = given['settings'];
      if (!settings || typeof settings !== 'object' || Array.isArray(settings)) {
        throw fieldError('args.settings', 'config needs args.settings, a JSON object');
      }
      if (Buffer.byteLength(JSON.stringify(settings), 'utf8') > CONFIG_SETTINGS_MAX_BYTES) {
        throw fieldError('args.settings', `args.settings is limited to ${CONFIG_SETTINGS_MAX_BYTES} bytes of JSON`);
      }
      return { settings };
    }
    case 'run_action': {
      unknown(['name', 'args']);
      const name = given['name'];
      if (typeof name !== 'string' || !ACTION_NAME.test(name)) {
        throw fieldError('args.name', 'args.name must be 1 to 64 characters of A-Z, a-z, 0-9, _, . and -');
      }
      const argv = given['args'];
      if (argv === undefined) {
        return { name };
      }
      if (
        !Array.isArray(argv) ||
        argv.length > RUN_ACTION_MAX_ARGS ||
        !argv.every((arg) => typeof arg === 'string' && arg.length <= RUN_ACTION_ARG_MAX_CHARS)
      ) {
        throw fieldError(
          'args.args',
          `args.args must be an array of at most ${RUN_ACTION_MAX_ARGS} strings of at most ${RUN_ACTION_ARG_MAX_CHARS} characters`,
        );
      }
      return { name, args: argv as string[] };
    }
    default:
      throw fieldError('kind', 'kind must be one of ping, config, run_action');
  }
}

export interface NewCommandInput {
  kind: DeviceCommandKind;
  args?: Record<string, unknown>;
  ttl_seconds?: number;
}

/** What a device's `cmd.result` did: the command's status now, and whether it had a result already. */
export interface CommandResultOutcome {
  command_id: string;
  status: CommandStatus;
  duplicate: boolean;
}

/** Why a command for an action could not be created (the action then fails with this text). */
export class CommandRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandRefused';
  }
}

/**
 * Commands from the hub to a device: created (REST or the `device_command` tool), delivered to the
 * device's connections (at once, and again after each hello while pending), answered by the
 * device's `cmd.result`, or expired by maintenance. Every change is audited once and streamed
 * (`commands.updated`) in its transaction; an action's command completes the action in the same one.
 */
@Injectable()
export class CommandsService {
  private readonly logger: HubLogger;

  constructor(
    private readonly repository: CommandsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly stream: AgentStream,
    private readonly links: DeviceLinks,
    private readonly runner: ToolRunnerService,
    @Inject(IDS) private readonly ids: Ids,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Commands');
  }

  async create(principal: Principal, deviceId: string, input: NewCommandInput): Promise<DeviceCommandView> {
    const row = await this.transactions.run(async (tx) => {
      const device = await this.repository.findDevice(deviceId, tx.db);
      if (!device) {
        throw DomainError.notFound('device', deviceId);
      }
      assertAgentScope(principal, device.agent_id, 'devices:command', { what: 'device', id: deviceId });
      if (device.revoked_at) {
        throw new DomainError(ErrorCode.Conflict, `device ${deviceId} is revoked and takes no commands`);
      }
      const args = validateCommandArgs(input.kind, input.args);
      await this.assertRoomFor(device.device_id, tx);
      return this.insert(tx, device, {
        command_id: this.ids.random(),
        kind: input.kind,
        args,
        ttl_seconds: input.ttl_seconds ?? DEFAULT_COMMAND_TTL_SECONDS,
        action_id: null,
        requested_by: `${principal.type}:${principal.id}`,
        actor: { type: principal.type, id: principal.id },
      });
    });
    return toCommandView(await this.deliver(row));
  }

  /**
   * The command of a `device_command` action (its id derived from the action's, so a redelivered
   * action finds the one it made). Throws CommandRefused when the device is unknown, of another
   * agent, revoked, or the args are not valid for the kind.
   */
  async createForAction(input: {
    command_id: string;
    action_id: string;
    agent_id: string;
    device_id: string;
    kind: DeviceCommandKind;
    args?: Record<string, unknown>;
    ttl_seconds: number;
  }): Promise<DeviceCommandRow> {
    const row = await this.transactions.run(async (tx) => {
      const existing = await this.repository.find(input.command_id, tx.db);
      if (existing) {
        return existing;
      }
      const device = await this.repository.findDevice(input.device_id, tx.db);
      if (!device || device.agent_id !== input.agent_id) {
        throw new CommandRefused(`device ${input.device_id} was not found`);
      }
      if (device.revoked_at) {
        throw new CommandRefused(`device ${input.device_id} is revoked and takes no commands`);
      }
      let args: Record<string, unknown>;
      try {
        args = validateCommandArgs(input.kind, input.args);
        await this.assertRoomFor(device.device_id, tx);
      } catch (error) {
        if (error instanceof DomainError) {
          throw new CommandRefused(describeFieldErrors(error));
        }
        throw error;
      }
      return this.insert(tx, device, {
        command_id: input.command_id,
        kind: input.kind,
        args,
        ttl_seconds: input.ttl_seconds,
        action_id: input.action_id,
        requested_by: `action:${input.action_id}`,
        actor: { type: 'system', id: 'tool-runner' },
      });
    });
    return this.deliver(row);
  }

  /** Refuses a new command while the device has MAX_PENDING_COMMANDS_PER_DEVICE waiting. */
  private async assertRoomFor(deviceId: string, tx: Tx): Promise<void> {
    const waiting = await this.repository.countPending(deviceId, MAX_PENDING_COMMANDS_PER_DEVICE, tx.db);
    if (waiting >= MAX_PENDING_COMMANDS_PER_DEVICE) {
      throw new DomainError(
        ErrorCode.RateLimited,
        `device ${deviceId} already has ${MAX_PENDING_COMMANDS_PER_DEVICE} commands waiting; wait for results or expiry`,
        { pending: waiting, limit: MAX_PENDING_COMMANDS_PER_DEVICE },
      );
    }
  }

  async get(principal: Principal, deviceId: string, commandId: string): Promise<DeviceCommandView> {
    const device = await this.repository.findDevice(deviceId);
    if (!device) {
      throw DomainError.notFound('device', deviceId);
    }
    assertAgentScope(principal, device.agent_id, 'devices:command', { what: 'device', id: deviceId });
    const row = await this.repository.find(commandId);
    if (!row || row.device_id !== deviceId) {
      throw DomainError.notFound('command', commandId);
    }
    return toCommandView(row);
  }

  async list(principal: Principal, deviceId: string, query: ListCommandsQuery): Promise<DeviceCommandList> {
    const device = await this.repository.findDevice(deviceId);
    if (!device) {
      throw DomainError.notFound('device', deviceId);
    }
    assertAgentScope(principal, device.agent_id, 'devices:command', { what: 'device', id: deviceId });
    const page = await this.repository.list(
      { deviceId, ...(query.status ? { status: query.status } : {}) },
      pageRequest(query),
    );
    return { commands: page.rows.map(toCommandView), next_cursor: nextCursor(page) };
  }

  /** Whether the device has queued or sent commands that have not expired (a hello then delivers them). */
  async hasPending(deviceId: string): Promise<boolean> {
    return (await this.repository.pending(deviceId, 1)).length > 0;
  }

  /**
   * Hands the device's pending (queued or sent, unexpired) commands to its connection
   * `connectionId` (every connection when absent), oldest first: after a hello. Returns how many
   * were handed over.
   */
  async deliverPending(deviceId: string, connectionId?: string): Promise<number> {
    const pending = await this.repository.pending(deviceId, PENDING_DELIVERY_LIMIT);
    let handed = 0;
    for (const row of pending) {
      const after = await this.deliver(row, connectionId);
      if (after.sent_at !== null) {
        handed += 1;
      }
    }
    return handed;
  }

  /**
   * A device's `cmd.result`: only for the device's own command (any other answers `not_found`,
   * revealing nothing). A pending command takes the outcome (and its action completes with it);
   * a finished one is left as it was (`duplicate`), an expired one stays expired.
   */
  async recordResult(principal: Principal, input: CommandResultMessage): Promise<CommandResultOutcome> {
    if (principal.type !== 'device') {
      throw new DomainError(ErrorCode.Forbidden, 'only a device answers commands, and only its own');
    }
    if (input.ok && input.error !== undefined) {
      throw fieldError('error', 'error must be absent when ok is true');
    }
    if (!input.ok && input.error === undefined) {
      throw fieldError('error', 'error is required when ok is false');
    }
    if (!input.ok && input.result !== undefined) {
      throw fieldError('result', 'result must be absent when ok is false');
    }
    const commandId = input.command_id.toLowerCase();
    return this.transactions.run(async (tx) => {
      const row = await this.repository.find(commandId, tx.db, { forUpdate: true });
      if (!row || row.device_id !== principal.id) {
        throw DomainError.notFound('command', commandId);
      }
      if (row.status === 'expired') {
        return { command_id: commandId, status: 'expired', duplicate: false };
      }
      if (FINISHED.includes(row.status)) {
        return { command_id: commandId, status: row.status as CommandStatus, duplicate: true };
      }
      const error: CommandError | undefined = input.error
        ? { code: input.error.code, message: input.error.message }
        : undefined;
      const updated = await this.repository.complete(
        commandId,
        input.ok
          ? { status: 'succeeded', result: input.result ?? {} }
          : { status: 'failed', ...(error ? { error } : {}) },
        tx.db,
      );
      await this.changed(
        tx,
        updated,
        'device.command_result',
        { type: 'device', id: principal.id },
        {
          kind: updated.kind,
          status: updated.status,
          ...(error ? { error } : {}),
        },
      );
      if (updated.action_id) {
        await this.runner.completeDeferred(
          tx,
          updated.action_id,
          input.ok
            ? { result: { result: updated.result ?? {}, command_id: commandId } }
            : { error: `${error?.code ?? CommandErrorCode.CommandFailed}: ${error?.message ?? ''}` },
        );
      }
      return { command_id: commandId, status: updated.status as CommandStatus, duplicate: false };
    });
  }

  /**
   * Expires queued and sent commands past their expiry (maintenance): `device_offline` when no
   * connection of the device ever took it, `device_timeout` when it did and no result came. The
   * action of each fails with the same code. Returns how many expired.
   */
  async expireDue(): Promise<number> {
    let expired = 0;
    for (let batch = 0; batch < EXPIRY_BATCHES_PER_RUN; batch += 1) {
      const count = await this.transactions.run(async (tx) => {
        const rows = await this.repository.lockExpired(EXPIRY_BATCH, tx.db);
        for (const row of rows) {
          const error: CommandError =
            row.status === 'queued'
              ? {
                  code: CommandErrorCode.DeviceOffline,
                  message: `the device did not connect before ${row.expires_at.toISOString()}`,
                }
              : {
                  code: CommandErrorCode.DeviceTimeout,
                  message: `the device did not answer before ${row.expires_at.toISOString()}`,
                };
          const updated = await this.repository.complete(row.command_id, { status: 'expired', error }, tx.db);
          await this.changed(
            tx,
            updated,
            'device.command_expired',
            { type: 'system', id: 'maintenance' },
            {
              kind: updated.kind,
              was: row.status,
              error,
            },
          );
          if (updated.action_id) {
            await this.runner.completeDeferred(tx, updated.action_id, { error: `${error.code}: ${error.message}` });
          }
        }
        return rows.length;
      });
      expired += count;
      if (count < EXPIRY_BATCH) {
        break;
      }
    }
    return expired;
  }

  private async insert(
    tx: Tx,
    device: CommandDeviceRow,
    command: {
      command_id: string;
      kind: DeviceCommandKind;
      args: Record<string, unknown>;
      ttl_seconds: number;
      action_id: string | null;
      requested_by: string;
      actor: { type: Principal['type'] | 'system'; id: string };
    },
  ): Promise<DeviceCommandRow> {
    const inserted = await this.repository.insert(
      {
        command_id: command.command_id,
        agent_id: device.agent_id,
        device_id: device.device_id,
        kind: command.kind,
        args: command.args,
        action_id: command.action_id,
        requested_by: command.requested_by,
        ttl_seconds: command.ttl_seconds,
      },
      tx.db,
    );
    if (!inserted) {
      // Another transaction made this command (a concurrent redelivery of its action): that one audited it.
      const existing = await this.repository.find(command.command_id, tx.db);
      if (!existing) {
        throw new DomainError(ErrorCode.Conflict, `command ${command.command_id} could not be created`);
      }
      return existing;
    }
    await this.changed(tx, inserted, 'device.command_sent', command.actor, {
      requested_by: inserted.requested_by,
      kind: inserted.kind,
      args: inserted.args,
      expires_at: inserted.expires_at.toISOString(),
      ...(inserted.action_id ? { action_id: inserted.action_id } : {}),
    });
    tx.afterCommit(() =>
      this.logger.log({
        msg: 'command created',
        command_id: inserted.command_id,
        device_id: inserted.device_id,
        kind: inserted.kind,
      }),
    );
    return inserted;
  }

  /**
   * Hands the command to its device's connections; the first hand-off of a queued command makes it
   * `sent`. A failed hand-off is logged and leaves the command as it was (the next hello retries).
   */
  private async deliver(row: DeviceCommandRow, connectionId?: string): Promise<DeviceCommandRow> {
    if (row.status !== 'queued' && row.status !== 'sent') {
      return row;
    }
    let taken: number;
    try {
      taken = await this.links.send(row.device_id, toCommandMessage(row), connectionId);
    } catch (error) {
      this.logger.warn(`command ${row.command_id}: delivery failed, kept for the next hello: ${String(error)}`);
      return row;
    }
    if (taken === 0 || row.status !== 'queued') {
      return row;
    }
    return this.transactions.run(async (tx) => {
      const sent = await this.repository.markSent(row.command_id, tx.db);
      if (!sent) {
        // It moved on meanwhile (its result came first): that change was audited.
        return (await this.repository.find(row.command_id, tx.db)) ?? row;
      }
      await this.changed(
        tx,
        sent,
        'device.command_delivered',
        { type: 'system', id: 'hub' },
        {
          kind: sent.kind,
          connections: taken,
        },
      );
      return sent;
    });
  }

  /** One audited, streamed change of a command. */
  private async changed(
    tx: Tx,
    row: DeviceCommandRow,
    action: string,
    actor: { type: Principal['type'] | 'system'; id: string },
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.audit.append(tx, {
      agentId: row.agent_id,
      action,
      actor,
      subject: { type: 'device_command', id: row.command_id },
      details: { device_id: row.device_id, ...details },
    });
    await this.stream.append(tx, {
      agent_id: row.agent_id,
      topic: 'commands.updated',
      space_id: null,
      data: toCommandView(row),
    });
  }
}

function describeFieldErrors(error: DomainError): string {
  const details = error.details as { fields?: Array<{ field: string; problems: string[] }> } | undefined;
  const problems = details?.fields?.flatMap((f) => f.problems) ?? [];
  return problems.length > 0 ? problems.join('; ') : error.message;
}
