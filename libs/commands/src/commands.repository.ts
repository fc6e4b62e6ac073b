import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import {
  asJson,
  asUuid,
  InjectKysely,
  keysetPage,
  type Database,
  type DeviceCommandRow,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

export const COMMAND_COLUMNS = [
  'command_id',
  'agent_id',
  'device_id',
  'kind',
  'args',
  'status',
  'action_id',
  'requested_by',
  'created_at',
  'sent_at',
  'completed_at',
  'expires_at',
  'result',
  'error',
] as const;

/** What deciding about a command needs of its device. */
export interface CommandDeviceRow {
  device_id: string;
  agent_id: string;
  revoked_at: Date | null;
}

export interface NewCommand {
  command_id: string;
  agent_id: string;
  device_id: string;
  kind: string;
  args: Record<string, unknown>;
  action_id: string | null;
  requested_by: string;
  ttl_seconds: number;
}

export interface CommandOutcomePatch {
  status: 'succeeded' | 'failed' | 'expired';
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

@Injectable()
export class CommandsRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async findDevice(deviceId: string, executor: Executor = this.db): Promise<CommandDeviceRow | undefined> {
    return executor
      .selectFrom('devices')
      .select(['device_id', 'agent_id', 'revoked_at'])
      .where('device_id', '=', asUuid(deviceId))
      .executeTakeFirst();
  }

  /** Inserts the command (queued, expiring `ttl_seconds` after the database's now) unless its id exists; the stored row when it wrote. */
  async insert(command: NewCommand, executor: Executor = this.db): Promise<DeviceCommandRow | undefined> {
    return executor
      .insertInto('device_commands')
      .values({
        command_id: asUuid(command.command_id),
        agent_id: asUuid(command.agent_id),
        device_id: asUuid(command.device_id),
        kind: command.kind,
        args: asJson(command.args),
        status: 'queued',
        action_id: command.action_id === null ? null : asUuid(command.action_id),
        requested_by: command.requested_by,
        expires_at: sql<Date>`now() + (${command.ttl_seconds}::integer * interval '1 second')`,
      })
      .onConflict((oc) => oc.doNothing())
      .returning(COMMAND_COLUMNS)
      .executeTakeFirst();
  }

  async find(
    commandId: string,
    executor: Executor = this.db,
    { forUpdate = false }: { forUpdate?: boolean } = {},
  ): Promise<DeviceCommandRow | undefined> {
    const query = executor
      .selectFrom('device_commands')
      .select(COMMAND_COLUMNS)
      .where('command_id', '=', asUuid(commandId));
    return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  /** One page of the device's commands, newest first (ties by id). */
  async list(
    query: { deviceId: string; status?: string },
    page: PageRequest,
    executor: Executor = this.db,
  ): Promise<Page<DeviceCommandRow>> {
    let select = executor
      .selectFrom('device_commands')
      .select(COMMAND_COLUMNS)
      .where('device_id', '=', asUuid(query.deviceId));
    if (query.status) {
      select = select.where('status', '=', query.status);
    }
    return keysetPage(select, { at: 'created_at', id: 'command_id', direction: 'desc' }, page);
  }

  /** The device's queued or sent commands that have not expired, oldest first (at most `limit`). */
  async pending(deviceId: string, limit: number, executor: Executor = this.db): Promise<DeviceCommandRow[]> {
    return executor
      .selectFrom('device_commands')
      .select(COMMAND_COLUMNS)
      .where('device_id', '=', asUuid(deviceId))
      .where('status', 'in', ['queued', 'sent'])
      .where('expires_at', '>', sql<Date>`now()`)
      .orderBy('created_at')
      .orderBy('command_id')
      .limit(limit)
      .execute();
  }

  /** queued → sent (sent_at now) when the command is still queued; the row when it changed. */
  async markSent(commandId: string, executor: Executor = this.db): Promise<DeviceCommandRow | undefined> {
    return executor
      .updateTable('device_commands')
      .set({ status: 'sent', sent_at: sql<Date>`now()` })
      .where('command_id', '=', asUuid(commandId))
      .where('status', '=', 'queued')
      .returning(COMMAND_COLUMNS)
      .executeTakeFirst();
  }

  /** Records the command's outcome (completed_at now). */
  async complete(
    commandId: string,
    patch: CommandOutcomePatch,
    executor: Executor = this.db,
  ): Promise<DeviceCommandRow> {
    return executor
      .updateTable('device_commands')
      .set({
        status: patch.status,
        completed_at: sql<Date>`now()`,
        ...(patch.result ? { result: asJson(patch.result) } : {}),
        ...(patch.error ? { error: asJson(patch.error) } : {}),
      })
      .where('command_id', '=', asUuid(commandId))
      .returning(COMMAND_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /**
   * Up to `limit` queued or sent commands past their expiry, locked for the caller's transaction;
   * rows another sweeper holds are skipped, so overlapping sweeps never expire one twice.
   */
  async lockExpired(limit: number, executor: Executor = this.db): Promise<DeviceCommandRow[]> {
    return executor
      .selectFrom('device_commands')
      .select(COMMAND_COLUMNS)
      .where('status', 'in', ['queued', 'sent'])
      .where('expires_at', '<=', sql<Date>`now()`)
      .orderBy('expires_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
  }
}
