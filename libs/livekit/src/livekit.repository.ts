import { Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { asUuid, InjectKysely, type Database, type Executor } from '@marvain/db';
import type { PrincipalType } from '@marvain/contracts';

/** What a join token says about its holder: a display name when known, and a device's capabilities. */
export interface ParticipantProfile {
  name: string | null;
  capabilities: Record<string, unknown> | null;
}

@Injectable()
export class LivekitRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /** The display name (and, for a device, the capabilities) of a principal. */
  async profile(type: PrincipalType, id: string, executor: Executor = this.db): Promise<ParticipantProfile> {
    switch (type) {
      case 'device': {
        const row = await executor
          .selectFrom('devices')
          .select(['name', 'capabilities'])
          .where('device_id', '=', asUuid(id))
          .executeTakeFirst();
        return { name: row?.name ?? null, capabilities: row?.capabilities ?? null };
      }
      case 'user': {
        const row = await executor
          .selectFrom('users')
          .select(['display_name'])
          .where('user_id', '=', asUuid(id))
          .executeTakeFirst();
        return { name: row?.display_name ?? null, capabilities: null };
      }
      case 'agent': {
        const row = await executor
          .selectFrom('agents')
          .select(['name'])
          .where('agent_id', '=', asUuid(id))
          .executeTakeFirst();
        return { name: row?.name ?? null, capabilities: null };
      }
    }
  }

  /** Whether the space exists and is the agent's. */
  async spaceOfAgent(spaceId: string, agentId: string, executor: Executor = this.db): Promise<boolean> {
    const row = await executor
      .selectFrom('spaces')
      .select(['space_id'])
      .where('space_id', '=', asUuid(spaceId))
      .where('agent_id', '=', asUuid(agentId))
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Whether the principal belongs to the agent today: a user with an active membership, a device
   * of the agent that is not revoked, or the agent itself.
   */
  async belongsToAgent(
    type: PrincipalType,
    id: string,
    agentId: string,
    executor: Executor = this.db,
  ): Promise<boolean> {
    switch (type) {
      case 'user':
        return (
          (await executor
            .selectFrom('agent_memberships')
            .select(['membership_id'])
            .where('agent_id', '=', asUuid(agentId))
            .where('user_id', '=', asUuid(id))
            .where('revoked_at', 'is', null)
            .executeTakeFirst()) !== undefined
        );
      case 'device':
        return (
          (await executor
            .selectFrom('devices')
            .select(['device_id'])
            .where('agent_id', '=', asUuid(agentId))
            .where('device_id', '=', asUuid(id))
            .where('revoked_at', 'is', null)
            .executeTakeFirst()) !== undefined
        );
      case 'agent':
        return id === agentId;
    }
  }
}
