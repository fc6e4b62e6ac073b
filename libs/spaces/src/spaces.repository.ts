import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import {
  asUuid,
  InjectKysely,
  keysetPage,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
  type SpaceRow,
} from '@marvain/db';

const SPACE_COLUMNS = ['space_id', 'agent_id', 'name', 'privacy_mode', 'created_at', 'updated_at'] as const;

export interface NewSpace {
  space_id: string;
  agent_id: string;
  name: string;
  privacy_mode?: boolean;
}

@Injectable()
export class SpacesRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(space: NewSpace, executor: Executor = this.db): Promise<SpaceRow> {
    return executor.insertInto('spaces').values(this.values(space)).returning(SPACE_COLUMNS).executeTakeFirstOrThrow();
  }

  /** Inserts the space unless the agent already has one of that name; undefined when it did not write. */
  async insertUnlessNameTaken(space: NewSpace, executor: Executor = this.db): Promise<SpaceRow | undefined> {
    return executor
      .insertInto('spaces')
      .values(this.values(space))
      .onConflict((oc) => oc.columns(['agent_id', 'name']).doNothing())
      .returning(SPACE_COLUMNS)
      .executeTakeFirst();
  }

  /**
   * Makes writers of one agent's space name take turns until the transaction ends, so a name check
   * followed by a write cannot race (a failed statement would end the transaction on the Data API).
   */
  async lockName(agentId: string, name: string, executor: Executor): Promise<void> {
    await sql`SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtextextended(${`space-name:${agentId}:${name}`}::text, 0))) AS l`.execute(
      executor,
    );
  }

  async findById(
    spaceId: string,
    executor: Executor = this.db,
    options: { forUpdate?: boolean } = {},
  ): Promise<SpaceRow | undefined> {
    const query = executor.selectFrom('spaces').select(SPACE_COLUMNS).where('space_id', '=', asUuid(spaceId));
    return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  async findByName(agentId: string, name: string, executor: Executor = this.db): Promise<SpaceRow | undefined> {
    return executor
      .selectFrom('spaces')
      .select(SPACE_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** One page of the agent's spaces, oldest first (ties by id). */
  async listByAgent(agentId: string, page: PageRequest, executor: Executor = this.db): Promise<Page<SpaceRow>> {
    const select = executor.selectFrom('spaces').select(SPACE_COLUMNS).where('agent_id', '=', asUuid(agentId));
    return keysetPage(select, { at: 'created_at', id: 'space_id', direction: 'asc' }, page);
  }

  /** Applies the changes; throws the database's unique violation when the new name is taken. */
  async update(
    spaceId: string,
    changes: { name?: string; privacy_mode?: boolean },
    executor: Executor = this.db,
  ): Promise<SpaceRow> {
    return executor
      .updateTable('spaces')
      .set({ ...changes, updated_at: sql<Date>`now()` })
      .where('space_id', '=', asUuid(spaceId))
      .returning(SPACE_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  private values(space: NewSpace) {
    return {
      space_id: asUuid(space.space_id),
      agent_id: asUuid(space.agent_id),
      name: space.name,
      ...(space.privacy_mode !== undefined ? { privacy_mode: space.privacy_mode } : {}),
    };
  }
}
