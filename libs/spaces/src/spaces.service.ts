import { Inject, Injectable } from '@nestjs/common';
import { DomainError, type Principal, type Scope } from '@marvain/contracts';
import type { SpaceRow, Tx } from '@marvain/db';
import { assertAgentScope, IDS, type Ids } from '@marvain/platform';
import { SpacesRepository } from './spaces.repository';

@Injectable()
export class SpacesService {
  constructor(
    private readonly repository: SpacesRepository,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  /** Creates a space, or returns the agent's space of that name when it already exists. */
  async ensure(tx: Tx, agentId: string, name: string): Promise<{ space: SpaceRow; created: boolean }> {
    const existing = await this.repository.findByName(agentId, name, tx.db);
    if (existing) return { space: existing, created: false };
    return { space: await this.repository.insert(tx.db, { space_id: this.ids.random(), agent_id: agentId, name }), created: true };
  }

  /** The space, if the principal may use it with `scope`; otherwise the same 404 as a missing space. */
  async getForPrincipal(principal: Principal, spaceId: string, scope: Scope): Promise<SpaceRow> {
    const space = await this.repository.findById(spaceId);
    if (!space) throw DomainError.notFound('space', spaceId);
    assertAgentScope(principal, space.agent_id, scope, { what: 'space', id: spaceId });
    return space;
  }
}
