import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type Principal, type Scope } from '@marvain/contracts';
import type { Executor } from '@marvain/db';
import { assertAgentScope, IDS, nextCursor, pageRequest, type Ids, type ListPageQuery } from '@marvain/platform';
import type { PersonList, PersonView } from './people.dto';
import { PeopleRepository, type PersonRow } from './people.repository';

function toPersonView(row: PersonRow): PersonView {
  return {
    person_id: row.person_id,
    agent_id: row.agent_id,
    display_name: row.display_name,
    created_at: row.created_at.toISOString(),
  };
}

/**
 * The people an agent knows (household members, visitors): not principals, but the subjects of
 * consent grants. Writes need spaces:manage and reads spaces:read on the person's agent.
 */
@Injectable()
export class PeopleService {
  constructor(
    private readonly repository: PeopleRepository,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async create(principal: Principal, agentId: string, displayName: string): Promise<PersonView> {
    assertAgentScope(principal, agentId, 'spaces:manage');
    return toPersonView(
      await this.repository.insert({ person_id: this.ids.random(), agent_id: agentId, display_name: displayName }),
    );
  }

  async list(principal: Principal, agentId: string, query: ListPageQuery = {}): Promise<PersonList> {
    assertAgentScope(principal, agentId, 'spaces:read');
    const page = await this.repository.listByAgent(agentId, pageRequest(query));
    return { people: page.rows.map(toPersonView), next_cursor: nextCursor(page) };
  }

  /**
   * The person, if the principal may use it with `scope`; a person of an agent the principal
   * cannot see answers exactly like a missing one. Pass a transaction and `forUpdate` to lock the row.
   */
  async getForPrincipal(
    principal: Principal,
    personId: string,
    scope: Scope,
    executor?: Executor,
    options: { forUpdate?: boolean } = {},
  ): Promise<PersonRow> {
    const person = await this.repository.findById(personId, executor, options);
    if (!person) {
      throw DomainError.notFound('person', personId);
    }
    assertAgentScope(principal, person.agent_id, scope, { what: 'person', id: personId });
    return person;
  }
}
