import { Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import {
  asUuid,
  InjectKysely,
  keysetPage,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
  type PeopleTable,
} from '@marvain/db';

export type PersonRow = Selectable<PeopleTable>;

const PERSON_COLUMNS = ['person_id', 'agent_id', 'display_name', 'created_at'] as const;

@Injectable()
export class PeopleRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(
    person: { person_id: string; agent_id: string; display_name: string },
    executor: Executor = this.db,
  ): Promise<PersonRow> {
    return executor
      .insertInto('people')
      .values({
        person_id: asUuid(person.person_id),
        agent_id: asUuid(person.agent_id),
        display_name: person.display_name,
      })
      .returning(PERSON_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** With `forUpdate`, the row stays locked until the transaction ends (grants to one person run one at a time). */
  async findById(
    personId: string,
    executor: Executor = this.db,
    options: { forUpdate?: boolean } = {},
  ): Promise<PersonRow | undefined> {
    const query = executor.selectFrom('people').select(PERSON_COLUMNS).where('person_id', '=', asUuid(personId));
    return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
  }

  /** One page of the agent's people, oldest first (ties by id). */
  async listByAgent(agentId: string, page: PageRequest, executor: Executor = this.db): Promise<Page<PersonRow>> {
    const select = executor.selectFrom('people').select(PERSON_COLUMNS).where('agent_id', '=', asUuid(agentId));
    return keysetPage(select, { at: 'created_at', id: 'person_id', direction: 'asc' }, page);
  }
}
