import { Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { asUuid, InjectKysely, type Database, type Executor, type SpaceRow } from '@marvain/db';

const SPACE_COLUMNS = ['space_id', 'agent_id', 'name', 'privacy_mode', 'created_at', 'updated_at'] as const;

@Injectable()
export class SpacesRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(executor: Executor, space: { space_id: string; agent_id: string; name: string }): Promise<SpaceRow> {
    return executor
      .insertInto('spaces')
      .values({ space_id: asUuid(space.space_id), agent_id: asUuid(space.agent_id), name: space.name })
      .returning(SPACE_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  async findById(spaceId: string, executor: Executor = this.db): Promise<SpaceRow | undefined> {
    return executor.selectFrom('spaces').select(SPACE_COLUMNS).where('space_id', '=', asUuid(spaceId)).executeTakeFirst();
  }

  async findByName(agentId: string, name: string, executor: Executor = this.db): Promise<SpaceRow | undefined> {
    return executor
      .selectFrom('spaces')
      .select(SPACE_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .where('name', '=', name)
      .executeTakeFirst();
  }
}
