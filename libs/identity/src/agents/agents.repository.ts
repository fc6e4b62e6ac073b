import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import {
  asUuid,
  InjectKysely,
  keysetPage,
  type AgentRow,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

const AGENT_COLUMNS = ['a.agent_id', 'a.name', 'a.kind', 'a.disabled', 'a.created_at', 'a.updated_at'] as const;
const RETURNED_COLUMNS = ['agent_id', 'name', 'kind', 'disabled', 'created_at', 'updated_at'] as const;

/** An agent with the caller's active role on it (null for callers that are not members: devices, agents). */
export interface AgentWithRole extends AgentRow {
  role: string | null;
}

/** Agents: rows of the `agents` table. Disabled agents are invisible to every read here. */
@Injectable()
export class AgentsRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(
    agent: { agent_id: string; name: string; kind: string },
    executor: Executor = this.db,
  ): Promise<AgentRow> {
    return executor
      .insertInto('agents')
      .values({ agent_id: asUuid(agent.agent_id), name: agent.name, kind: agent.kind })
      .returning(RETURNED_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /**
   * One page of the enabled agents among `agentIds`, oldest first (ties by id), each with
   * `userId`'s active role (null when `userId` is null or holds none). One round trip.
   */
  async pageWithRole(
    agentIds: readonly string[],
    userId: string | null,
    page: PageRequest,
    executor: Executor = this.db,
  ): Promise<Page<AgentWithRole>> {
    if (agentIds.length === 0) {
      return { rows: [], next: null };
    }
    return keysetPage(
      this.selectWithRole(agentIds, userId, executor),
      { at: 'a.created_at', id: 'a.agent_id', direction: 'asc' },
      page,
    );
  }

  async findWithRole(
    agentId: string,
    userId: string | null,
    executor: Executor = this.db,
  ): Promise<AgentWithRole | undefined> {
    return this.selectWithRole([agentId], userId, executor).executeTakeFirst();
  }

  private selectWithRole(agentIds: readonly string[], userId: string | null, executor: Executor) {
    return executor
      .selectFrom('agents as a')
      .select(AGENT_COLUMNS)
      .select(
        sql<string | null>`(SELECT m.role FROM agent_memberships m
          WHERE m.agent_id = a.agent_id AND m.user_id = ${userId}::uuid AND m.revoked_at IS NULL LIMIT 1)`.as('role'),
      )
      .where(
        'a.agent_id',
        'in',
        agentIds.map((id) => asUuid(id)),
      )
      .where('a.disabled', '=', false);
  }

  /** The enabled agent, its row locked against concurrent updates (not against inserts that reference it). */
  async lockEnabled(agentId: string, executor: Executor = this.db): Promise<AgentRow | undefined> {
    return executor
      .selectFrom('agents as a')
      .select(AGENT_COLUMNS)
      .where('a.agent_id', '=', asUuid(agentId))
      .where('a.disabled', '=', false)
      .forNoKeyUpdate()
      .executeTakeFirst();
  }

  async rename(agentId: string, name: string, executor: Executor = this.db): Promise<AgentRow | undefined> {
    return executor
      .updateTable('agents')
      .set({ name, updated_at: sql<Date>`now()` })
      .where('agent_id', '=', asUuid(agentId))
      .where('disabled', '=', false)
      .returning(RETURNED_COLUMNS)
      .executeTakeFirst();
  }

  /** The agent, enabled or not (enabling a disabled agent, and the operator's checks, need to see one). */
  async findAny(agentId: string, executor: Executor = this.db): Promise<AgentRow | undefined> {
    return executor
      .selectFrom('agents as a')
      .select(AGENT_COLUMNS)
      .where('a.agent_id', '=', asUuid(agentId))
      .executeTakeFirst();
  }

  /** Enables a disabled agent; undefined when it is missing or already enabled. */
  async enable(agentId: string, executor: Executor = this.db): Promise<AgentRow | undefined> {
    return this.setDisabled(agentId, false, executor);
  }

  /** Disables an enabled agent; undefined when it is missing or already disabled. */
  async disable(agentId: string, executor: Executor = this.db): Promise<AgentRow | undefined> {
    return this.setDisabled(agentId, true, executor);
  }

  /** Flips `disabled` to `disabled` only when it is the other value, so a no-op changes (and returns) nothing. */
  private async setDisabled(agentId: string, disabled: boolean, executor: Executor): Promise<AgentRow | undefined> {
    return executor
      .updateTable('agents')
      .set({ disabled, updated_at: sql<Date>`now()` })
      .where('agent_id', '=', asUuid(agentId))
      .where('disabled', '=', !disabled)
      .returning(RETURNED_COLUMNS)
      .executeTakeFirst();
  }

  async count(executor: Executor = this.db): Promise<number> {
    const row = await executor
      .selectFrom('agents')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
