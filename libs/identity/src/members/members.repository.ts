import { Injectable } from '@nestjs/common';
import { sql, type Kysely, type Selectable } from 'kysely';
import {
  asUuid,
  InjectKysely,
  keysetPage,
  type AgentMembershipsTable,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

export type MembershipRow = Selectable<AgentMembershipsTable>;

/** A membership with who the member is. */
export interface MemberRow extends MembershipRow {
  email: string | null;
  display_name: string | null;
}

const MEMBERSHIP_COLUMNS = ['membership_id', 'agent_id', 'user_id', 'role', 'created_at', 'revoked_at'] as const;
const MEMBER_COLUMNS = [
  'm.membership_id',
  'm.agent_id',
  'm.user_id',
  'm.role',
  'm.created_at',
  'm.revoked_at',
  'u.email',
  'u.display_name',
] as const;

/**
 * Memberships: which user holds which role on which agent. At most one active membership per
 * user and agent, and at most one active owner per agent (partial unique indexes in 0002).
 */
@Injectable()
export class MembersRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /** One page of the agent's active members, oldest membership first (ties by id). */
  async listActive(agentId: string, page: PageRequest, executor: Executor = this.db): Promise<Page<MemberRow>> {
    const select = executor
      .selectFrom('agent_memberships as m')
      .innerJoin('users as u', 'u.user_id', 'm.user_id')
      .select(MEMBER_COLUMNS)
      .where('m.agent_id', '=', asUuid(agentId))
      .where('m.revoked_at', 'is', null);
    return keysetPage(select, { at: 'm.created_at', id: 'm.membership_id', direction: 'asc' }, page);
  }

  /** One active member, with who they are. */
  async findActiveMember(
    agentId: string,
    userId: string,
    executor: Executor = this.db,
  ): Promise<MemberRow | undefined> {
    return executor
      .selectFrom('agent_memberships as m')
      .innerJoin('users as u', 'u.user_id', 'm.user_id')
      .select(MEMBER_COLUMNS)
      .where('m.agent_id', '=', asUuid(agentId))
      .where('m.user_id', '=', asUuid(userId))
      .where('m.revoked_at', 'is', null)
      .executeTakeFirst();
  }

  /** The user's active membership on the agent; `forUpdate` locks its row until the transaction ends. */
  async findActive(
    agentId: string,
    userId: string,
    executor: Executor = this.db,
    options: { forUpdate?: boolean } = {},
  ): Promise<MembershipRow | undefined> {
    let query = executor
      .selectFrom('agent_memberships')
      .select(MEMBERSHIP_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .where('user_id', '=', asUuid(userId))
      .where('revoked_at', 'is', null);
    if (options.forUpdate) {
      query = query.forUpdate();
    }
    return query.executeTakeFirst();
  }

  /**
   * The agent's active owner, its row locked FOR UPDATE. A transaction that waits on the lock
   * while another moves ownership gets nothing back once that one commits (the row it waited
   * for is no longer the owner's), never a stale owner.
   */
  async lockOwner(agentId: string, executor: Executor = this.db): Promise<MembershipRow | undefined> {
    return executor
      .selectFrom('agent_memberships')
      .select(MEMBERSHIP_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .where('role', '=', 'owner')
      .where('revoked_at', 'is', null)
      .forUpdate()
      .executeTakeFirst();
  }

  async insert(
    membership: { membership_id: string; agent_id: string; user_id: string; role: string },
    executor: Executor = this.db,
  ): Promise<MembershipRow> {
    return executor
      .insertInto('agent_memberships')
      .values({
        membership_id: asUuid(membership.membership_id),
        agent_id: asUuid(membership.agent_id),
        user_id: asUuid(membership.user_id),
        role: membership.role,
      })
      .returning(MEMBERSHIP_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** Sets the role of an active membership; undefined when it is no longer active. */
  async setRole(membershipId: string, role: string, executor: Executor = this.db): Promise<MembershipRow | undefined> {
    return executor
      .updateTable('agent_memberships')
      .set({ role })
      .where('membership_id', '=', asUuid(membershipId))
      .where('revoked_at', 'is', null)
      .returning(MEMBERSHIP_COLUMNS)
      .executeTakeFirst();
  }

  /** Ends an active membership; undefined when it already ended. */
  async revoke(membershipId: string, executor: Executor = this.db): Promise<MembershipRow | undefined> {
    return executor
      .updateTable('agent_memberships')
      .set({ revoked_at: sql<Date>`now()` })
      .where('membership_id', '=', asUuid(membershipId))
      .where('revoked_at', 'is', null)
      .returning(MEMBERSHIP_COLUMNS)
      .executeTakeFirst();
  }

  /** The user's active role on an enabled agent, if any: what the user may do there right now. */
  async activeRole(agentId: string, userId: string, executor: Executor = this.db): Promise<string | undefined> {
    const row = await executor
      .selectFrom('agent_memberships as m')
      .innerJoin('agents as a', 'a.agent_id', 'm.agent_id')
      .select('m.role')
      .where('m.user_id', '=', asUuid(userId))
      .where('m.agent_id', '=', asUuid(agentId))
      .where('m.revoked_at', 'is', null)
      .where('a.disabled', '=', false)
      .executeTakeFirst();
    return row?.role;
  }
}
