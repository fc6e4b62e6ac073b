import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import {
  asJson,
  asUuid,
  InjectKysely,
  keysetPage,
  type Database,
  type DeviceRow,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

/** Everything about a device except its token hash, which leaves the repository only through findCredential. */
const DEVICE_COLUMNS = [
  'device_id',
  'agent_id',
  'name',
  'scopes',
  'capabilities',
  'metadata',
  'created_at',
  'revoked_at',
  'last_hello_at',
  'last_heartbeat_at',
] as const;

export type DeviceRecord = Omit<DeviceRow, 'token_hash'>;

/** What decides whether a device token may act: its device, scopes, and whether it or its agent is switched off. */
export interface DeviceCredential {
  device_id: string;
  agent_id: string;
  token_hash: string;
  scopes: string[];
  revoked: boolean;
  agent_disabled: boolean;
}

export interface NewDevice {
  device_id: string;
  agent_id: string;
  name: string;
  token_hash: string;
  scopes: string[];
  capabilities: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

@Injectable()
export class DevicesRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(device: NewDevice, executor: Executor = this.db): Promise<DeviceRecord> {
    return executor
      .insertInto('devices')
      .values({
        device_id: asUuid(device.device_id),
        agent_id: asUuid(device.agent_id),
        name: device.name,
        token_hash: device.token_hash,
        scopes: asJson(device.scopes),
        capabilities: asJson(device.capabilities),
        metadata: asJson(device.metadata),
      })
      .returning(DEVICE_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** One page of the agent's devices, newest first (ties by id), revoked ones included. */
  async list(agentId: string, page: PageRequest, executor: Executor = this.db): Promise<Page<DeviceRecord>> {
    const select = executor.selectFrom('devices').select(DEVICE_COLUMNS).where('agent_id', '=', asUuid(agentId));
    return keysetPage(select, { at: 'created_at', id: 'device_id', direction: 'desc' }, page);
  }

  /** One device by id; `forUpdate` locks its row until the transaction ends (rotate vs revoke). */
  async find(
    deviceId: string,
    executor: Executor = this.db,
    options: { forUpdate?: boolean } = {},
  ): Promise<DeviceRecord | undefined> {
    let query = executor.selectFrom('devices').select(DEVICE_COLUMNS).where('device_id', '=', asUuid(deviceId));
    if (options.forUpdate) {
      query = query.forUpdate();
    }
    return query.executeTakeFirst();
  }

  /** The device a token hash belongs to, with what decides whether it may act; one round trip. */
  async findCredential(tokenHash: string, executor: Executor = this.db): Promise<DeviceCredential | undefined> {
    return executor
      .selectFrom('devices as d')
      .innerJoin('agents as a', 'a.agent_id', 'd.agent_id')
      .select([
        'd.device_id',
        'd.agent_id',
        'd.token_hash',
        'd.scopes',
        sql<boolean>`d.revoked_at IS NOT NULL`.as('revoked'),
        'a.disabled as agent_disabled',
      ])
      .where('d.token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  /** Marks the device revoked; undefined when it was already revoked (or does not exist). */
  async revoke(deviceId: string, executor: Executor = this.db): Promise<DeviceRecord | undefined> {
    return executor
      .updateTable('devices')
      .set({ revoked_at: sql`now()` })
      .where('device_id', '=', asUuid(deviceId))
      .where('revoked_at', 'is', null)
      .returning(DEVICE_COLUMNS)
      .executeTakeFirst();
  }

  /** Replaces the token hash of an active device; the old hash stops matching with this statement. */
  async replaceTokenHash(
    deviceId: string,
    tokenHash: string,
    executor: Executor = this.db,
  ): Promise<DeviceRecord | undefined> {
    return executor
      .updateTable('devices')
      .set({ token_hash: tokenHash })
      .where('device_id', '=', asUuid(deviceId))
      .where('revoked_at', 'is', null)
      .returning(DEVICE_COLUMNS)
      .executeTakeFirst();
  }

  /** Stamps an active device's heartbeat with the transaction's time; undefined when it is revoked. */
  async recordHeartbeat(
    deviceId: string,
    executor: Executor = this.db,
  ): Promise<{ device_id: string; agent_id: string; last_heartbeat_at: Date } | undefined> {
    const row = await executor
      .updateTable('devices')
      .set({ last_heartbeat_at: sql`now()` })
      .where('device_id', '=', asUuid(deviceId))
      .where('revoked_at', 'is', null)
      .returning(['device_id', 'agent_id', 'last_heartbeat_at'])
      .executeTakeFirst();
    return row?.last_heartbeat_at
      ? { device_id: row.device_id, agent_id: row.agent_id, last_heartbeat_at: row.last_heartbeat_at }
      : undefined;
  }
}
