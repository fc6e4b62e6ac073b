import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_DEVICE_SCOPES,
  DomainError,
  ErrorCode,
  hasScope,
  isScopeGrant,
  SCOPES,
  scopesFor,
  type Principal,
} from '@marvain/contracts';
import { TransactionRunner, type Executor, type Tx } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { assertAgentScope, IDS, nextCursor, pageRequest, type Ids, type ListPageQuery } from '@marvain/platform';
import { PresenceService } from '@marvain/presence';
import { SpacesService } from '@marvain/spaces';
import { hashDeviceToken, newDeviceToken } from './device-tokens';
import type { DeviceList, DeviceView, DeviceWithTokenView, HeartbeatStatus, HeartbeatView } from './devices.dto';
import { DevicesRepository, type DeviceRecord } from './devices.repository';
import { PrincipalRevocations } from '../principals/principal-revocations';

export interface RegisterDeviceInput {
  name: string;
  scopes?: string[];
  capabilities?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

export interface HeartbeatInput {
  space_id?: string;
  status?: HeartbeatStatus;
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

export function toDeviceView(row: DeviceRecord): DeviceView {
  return {
    device_id: row.device_id,
    agent_id: row.agent_id,
    name: row.name,
    scopes: row.scopes,
    capabilities: row.capabilities,
    metadata: row.metadata,
    is_remote: row.metadata['is_remote'] === true,
    created_at: row.created_at.toISOString(),
    revoked_at: iso(row.revoked_at),
    last_hello_at: iso(row.last_hello_at),
    last_heartbeat_at: iso(row.last_heartbeat_at),
  };
}

/**
 * Scopes in `wanted` that `held` does not cover. A `resource:*` grant is covered only when
 * every registered verb of that resource is held, so nobody hands out more than they have.
 */
export function scopesBeyond(held: readonly string[], wanted: readonly string[]): string[] {
  return wanted.filter((grant) => {
    if (!isScopeGrant(grant)) {
      return true;
    }
    if (!grant.endsWith(':*')) {
      return !hasScope(held, grant as (typeof SCOPES)[number]);
    }
    const resource = grant.slice(0, grant.indexOf(':'));
    if (held.includes(grant)) {
      return false;
    }
    return SCOPES.filter((s) => s.startsWith(`${resource}:`)).some((s) => !hasScope(held, s));
  });
}

/**
 * Devices ("satellites", remotes included: `metadata.is_remote`) as principals: registration
 * with a token shown once, listing, revocation and token rotation (each audited), and heartbeats.
 */
@Injectable()
export class DevicesService {
  constructor(
    private readonly repository: DevicesRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    private readonly spaces: SpacesService,
    @Inject(IDS) private readonly ids: Ids,
    private readonly revocations: PrincipalRevocations,
    private readonly presence: PresenceService,
  ) {}

  async register(principal: Principal, agentId: string, input: RegisterDeviceInput): Promise<DeviceWithTokenView> {
    assertAgentScope(principal, agentId, 'devices:manage');
    const scopes = [...new Set(input.scopes ?? DEFAULT_DEVICE_SCOPES)];
    const unknown = scopes.filter((s) => !isScopeGrant(s));
    if (unknown.length > 0) {
      throw new DomainError(ErrorCode.ValidationFailed, 'unknown scopes', { scopes: unknown });
    }
    this.assertMayGrant(principal, agentId, scopes);
    const metadata = input.metadata ?? {};
    if (metadata['is_remote'] !== undefined && typeof metadata['is_remote'] !== 'boolean') {
      throw new DomainError(ErrorCode.ValidationFailed, 'metadata.is_remote must be a boolean');
    }

    const token = newDeviceToken();
    const row = await this.transactions.run(async (tx) => {
      const inserted = await this.repository.insert(
        {
          device_id: this.ids.random(),
          agent_id: agentId,
          name: input.name,
          token_hash: hashDeviceToken(token),
          scopes,
          capabilities: input.capabilities ?? {},
          metadata,
        },
        tx.db,
      );
      await this.audit.append(tx, {
        agentId,
        action: 'device.registered',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'device', id: inserted.device_id },
        details: { name: inserted.name, scopes, is_remote: metadata['is_remote'] === true },
      });
      return inserted;
    });
    return { device: toDeviceView(row), token };
  }

  async list(principal: Principal, agentId: string, query: ListPageQuery = {}): Promise<DeviceList> {
    assertAgentScope(principal, agentId, 'devices:manage');
    const page = await this.repository.list(agentId, pageRequest(query));
    return { devices: page.rows.map(toDeviceView), next_cursor: nextCursor(page) };
  }

  async get(principal: Principal, deviceId: string): Promise<DeviceView> {
    return toDeviceView(await this.findManageable(principal, deviceId));
  }

  /** The device, if the principal may manage it; a device of another agent answers like a missing one. */
  private async findManageable(
    principal: Principal,
    deviceId: string,
    executor?: Executor,
    options?: { forUpdate?: boolean },
  ): Promise<DeviceRecord> {
    const device = await this.repository.find(deviceId, executor, options);
    if (!device) {
      throw DomainError.notFound('device', deviceId);
    }
    assertAgentScope(principal, device.agent_id, 'devices:manage', { what: 'device', id: deviceId });
    return device;
  }

  /**
   * Audits the end of a device's credential (revoked, or replaced by rotation) and, once the
   * transaction commits, ends the connections opened with it.
   */
  private async credentialEnded(
    tx: Tx,
    principal: Principal,
    device: DeviceRecord,
    action: 'device.revoked' | 'device.token_rotated',
  ): Promise<void> {
    await this.audit.append(tx, {
      agentId: device.agent_id,
      action,
      actor: { type: principal.type, id: principal.id },
      subject: { type: 'device', id: device.device_id },
      details: { name: device.name },
    });
    this.revocations.afterCommit(tx, {
      principal: { type: 'device', id: device.device_id },
      reason: 'credential_revoked',
    });
  }

  /** Revokes the device; its next request is refused. Revoking a revoked device changes nothing. */
  async revoke(principal: Principal, deviceId: string): Promise<DeviceView> {
    const row = await this.transactions.run(async (tx) => {
      const existing = await this.findManageable(principal, deviceId, tx.db);
      const revoked = await this.repository.revoke(deviceId, tx.db);
      if (!revoked) {
        // Already revoked: revoking again changes nothing.
        return (await this.repository.find(deviceId, tx.db)) ?? existing;
      }
      await this.credentialEnded(tx, principal, revoked, 'device.revoked');
      return revoked;
    });
    return toDeviceView(row);
  }

  /**
   * Issues a new token; the old one stops matching in the same statement. The caller must hold
   * every scope the device has: otherwise rotating would hand them a stronger credential.
   */
  async rotateToken(principal: Principal, deviceId: string): Promise<DeviceWithTokenView> {
    const token = newDeviceToken();
    const row = await this.transactions.run(async (tx) => {
      // Locked so a concurrent revoke cannot interleave between the check and the update.
      const existing = await this.findManageable(principal, deviceId, tx.db, { forUpdate: true });
      if (existing.revoked_at) {
        throw new DomainError(ErrorCode.Conflict, `device ${deviceId} is revoked; register a new device instead`);
      }
      this.assertMayGrant(principal, existing.agent_id, existing.scopes.filter(isScopeGrant)); // stale strings grant nothing
      const rotated = await this.repository.replaceTokenHash(deviceId, hashDeviceToken(token), tx.db);
      if (!rotated) {
        throw new DomainError(ErrorCode.Conflict, `device ${deviceId} is revoked; register a new device instead`);
      }
      await this.credentialEnded(tx, principal, rotated, 'device.token_rotated');
      return rotated;
    });
    return { device: toDeviceView(row), token };
  }

  /**
   * A device says it is alive and where: in the space it names, or with its agent in no
   * particular space. Its presence there is refreshed in the same transaction (a status change
   * is a streamed transition). The one entry for REST and the WebSocket `heartbeat` verb.
   * Heartbeats are deliberately NOT audited: satellites send one every 15–30 s, and they change
   * no permission or data that the audit chain vouches for; last_heartbeat_at and the presence
   * row are their record.
   */
  async heartbeat(principal: Principal, input: HeartbeatInput): Promise<HeartbeatView> {
    if (principal.type !== 'device') {
      throw new DomainError(ErrorCode.Forbidden, 'only a device sends heartbeats (use a device token)');
    }
    const agentId = principal.agents[0]?.agent_id;
    if (!agentId) {
      throw new DomainError(ErrorCode.Forbidden, 'this device acts for no agent');
    }
    assertAgentScope(principal, agentId, 'presence:write');
    const space = input.space_id
      ? await this.spaces.getForPrincipal(principal, input.space_id, 'presence:write')
      : undefined;

    const beat = await this.transactions.run(async (tx) => {
      const stamped = await this.repository.recordHeartbeat(principal.id, tx.db);
      if (!stamped) {
        throw new DomainError(ErrorCode.Unauthenticated, 'this device has been revoked');
      }
      await this.presence.refresh(tx, {
        agent_id: stamped.agent_id,
        space_id: space ? space.space_id : null,
        subject_type: 'device',
        subject_id: stamped.device_id,
        status: input.status ?? 'online',
      });
      return stamped;
    });
    return { device_id: beat.device_id, last_heartbeat_at: beat.last_heartbeat_at.toISOString() };
  }

  /** Refuses to grant (or hand over, by rotation) scopes the principal does not hold on the agent. */
  private assertMayGrant(principal: Principal, agentId: string, scopes: readonly string[]): void {
    const beyond = scopesBeyond(scopesFor(principal, agentId), scopes);
    if (beyond.length > 0) {
      throw new DomainError(ErrorCode.Forbidden, `you cannot grant scopes you do not hold on agent ${agentId}`, {
        scopes: beyond,
      });
    }
  }
}
