import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_DEVICE_SCOPES, DomainError, ErrorCode } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { IDS, type BootstrappedAgent, type Ids } from '@marvain/platform';
import { SpacesService } from '@marvain/spaces';
import { hashDeviceToken, newDeviceToken } from '../devices/device-tokens';
import { AgentsRepository } from '../agents/agents.repository';
import { DevicesRepository } from '../devices/devices.repository';
import { MembersRepository } from '../members/members.repository';
import { UsersRepository } from '../users/users.repository';
import { USER_TOKEN_ISSUER, type UserTokenIssuer } from '../users/user-tokens';

export interface BootstrapInput {
  agentName: string;
  spaceName: string;
  /** Reuse this user as the owner (the one saved in the operator's config); otherwise a new local owner is created. */
  ownerUserId?: string;
  ownerEmail?: string;
}

/** The new agent's ids and credentials: exactly what the operator's config file keeps per agent. */
export type BootstrapResult = BootstrappedAgent;

export interface BootstrapOptions {
  /**
   * Runs with the result before the transaction commits (e.g. to save the credentials): if it
   * fails, nothing is created, and if the process dies before the commit, nothing was created
   * either, so credentials shown once can never outlive their only copy.
   */
  beforeCommit?: (result: BootstrapResult) => Promise<void>;
}

/** Creates an owner, an agent, a space and a device in one audited transaction. */
@Injectable()
export class BootstrapService {
  constructor(
    private readonly transactions: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly agents: AgentsRepository,
    private readonly members: MembersRepository,
    private readonly devices: DevicesRepository,
    private readonly spaces: SpacesService,
    private readonly audit: AuditService,
    @Inject(IDS) private readonly ids: Ids,
    @Inject(USER_TOKEN_ISSUER) private readonly tokens: UserTokenIssuer,
  ) {}

  async bootstrap(input: BootstrapInput, options: BootstrapOptions = {}): Promise<BootstrapResult> {
    const agentName = input.agentName.trim();
    const spaceName = input.spaceName.trim();
    if (!agentName || agentName.length > 200) {
      throw new DomainError(ErrorCode.ValidationFailed, 'the agent name must be 1 to 200 characters');
    }
    if (!spaceName || spaceName.length > 200) {
      throw new DomainError(ErrorCode.ValidationFailed, 'the space name must be 1 to 200 characters');
    }

    const deviceToken = newDeviceToken();
    return this.transactions.run(async (tx) => {
      const existingOwner = input.ownerUserId ? await this.users.find(input.ownerUserId, tx.db) : undefined;
      const owner =
        existingOwner ??
        (await this.users.upsert(
          {
            user_id: this.ids.random(),
            subject: `local:${this.ids.random()}`,
            email: input.ownerEmail ?? null,
            display_name: 'Owner',
          },
          tx.db,
        ));
      const agent = await this.agents.insert({ agent_id: this.ids.random(), name: agentName, kind: 'self' }, tx.db);
      await this.members.insert(
        { membership_id: this.ids.random(), agent_id: agent.agent_id, user_id: owner.user_id, role: 'owner' },
        tx.db,
      );
      const { space } = await this.spaces.ensure(tx, agent.agent_id, spaceName);
      const deviceId = this.ids.random();
      await this.devices.insert(
        {
          device_id: deviceId,
          agent_id: agent.agent_id,
          name: `${spaceName} satellite`,
          token_hash: hashDeviceToken(deviceToken),
          scopes: [...DEFAULT_DEVICE_SCOPES],
          capabilities: {},
          metadata: { created_by: 'bootstrap' },
        },
        tx.db,
      );
      const actor = { type: 'user' as const, id: owner.user_id };
      await this.audit.append(tx, {
        agentId: agent.agent_id,
        action: 'bootstrap.completed',
        actor,
        subject: { type: 'agent', id: agent.agent_id },
        details: { agent_name: agentName, space_id: space.space_id, owner_user_id: owner.user_id },
      });
      await this.audit.append(tx, {
        agentId: agent.agent_id,
        action: 'device.registered',
        actor,
        subject: { type: 'device', id: deviceId },
        details: { scopes: [...DEFAULT_DEVICE_SCOPES], space_id: space.space_id },
      });
      const userToken = await this.tokens.issue({
        subject: owner.subject,
        email: owner.email,
        displayName: owner.display_name,
        tokenVersion: owner.token_version,
      });
      const result: BootstrapResult = {
        agent_id: agent.agent_id,
        space_id: space.space_id,
        device_id: deviceId,
        device_token: deviceToken,
        user_id: owner.user_id,
        user_token: userToken,
      };
      await options.beforeCommit?.(result);
      return result;
    });
  }

  async agentExists(agentId: string): Promise<boolean> {
    return (await this.agents.findAny(agentId)) !== undefined;
  }

  async hasAnyAgent(): Promise<boolean> {
    return (await this.agents.count()) > 0;
  }
}
