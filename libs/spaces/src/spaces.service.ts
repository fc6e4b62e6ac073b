import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type Principal, type Scope } from '@marvain/contracts';
import { TransactionRunner, type SpaceRow, type Tx } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { assertAgentScope, IDS, nextCursor, pageRequest, type Ids, type ListPageQuery } from '@marvain/platform';
import type { SpaceList, SpaceView } from './spaces.dto';
import { SpacesRepository } from './spaces.repository';
import { isUniqueViolation } from '@marvain/db';

/** The `details.reason` of the 409 a duplicate space name answers with. */
export const SPACE_NAME_TAKEN = 'space_name_taken';

function nameTaken(name: string): DomainError {
  return new DomainError(ErrorCode.Conflict, `the agent already has a space named "${name}"`, {
    reason: SPACE_NAME_TAKEN,
    field: 'name',
  });
}

function toSpaceView(row: SpaceRow): SpaceView {
  return {
    space_id: row.space_id,
    agent_id: row.agent_id,
    name: row.name,
    privacy_mode: row.privacy_mode,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

@Injectable()
export class SpacesService {
  constructor(
    private readonly repository: SpacesRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  /** Creates a space, or returns the agent's space of that name when it already exists. */
  async ensure(tx: Tx, agentId: string, name: string): Promise<{ space: SpaceRow; created: boolean }> {
    const existing = await this.repository.findByName(agentId, name, tx.db);
    if (existing) {
      return { space: existing, created: false };
    }
    return {
      space: await this.repository.insert({ space_id: this.ids.random(), agent_id: agentId, name }, tx.db),
      created: true,
    };
  }

  /** The space, if the principal may use it with `scope`; otherwise the same 404 as a missing space. */
  async getForPrincipal(principal: Principal, spaceId: string, scope: Scope): Promise<SpaceRow> {
    const space = await this.repository.findById(spaceId);
    if (!space) {
      throw DomainError.notFound('space', spaceId);
    }
    assertAgentScope(principal, space.agent_id, scope, { what: 'space', id: spaceId });
    return space;
  }

  async get(principal: Principal, spaceId: string): Promise<SpaceView> {
    return toSpaceView(await this.getForPrincipal(principal, spaceId, 'spaces:read'));
  }

  /** Creates a space for the agent; a name the agent already uses answers 409 (details.reason space_name_taken). */
  async create(
    principal: Principal,
    agentId: string,
    input: { name: string; privacy_mode?: boolean | undefined },
  ): Promise<SpaceView> {
    assertAgentScope(principal, agentId, 'spaces:manage');
    const created = await this.transactions.run(async (tx) => {
      await this.repository.lockName(agentId, input.name, tx.db);
      const space = await this.repository.insertUnlessNameTaken(
        {
          space_id: this.ids.random(),
          agent_id: agentId,
          name: input.name,
          ...(input.privacy_mode !== undefined ? { privacy_mode: input.privacy_mode } : {}),
        },
        tx.db,
      );
      if (!space) {
        throw nameTaken(input.name);
      }
      await this.audit.append(tx, {
        agentId,
        action: 'space.created',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'space', id: space.space_id },
        details: { name: space.name, privacy_mode: space.privacy_mode },
      });
      return space;
    });
    return toSpaceView(created);
  }

  async list(principal: Principal, agentId: string, query: ListPageQuery = {}): Promise<SpaceList> {
    assertAgentScope(principal, agentId, 'spaces:read');
    const page = await this.repository.listByAgent(agentId, pageRequest(query));
    return { spaces: page.rows.map(toSpaceView), next_cursor: nextCursor(page) };
  }

  /**
   * Renames the space and/or turns privacy mode on or off. The row is locked while it changes, so
   * each privacy change is audited exactly once with the value it replaced; setting a value the
   * space already has changes (and audits) nothing.
   */
  async update(
    principal: Principal,
    spaceId: string,
    patch: { name?: string | undefined; privacy_mode?: boolean | undefined },
  ): Promise<SpaceView> {
    const updated = await this.transactions.run(async (tx) => {
      const space = await this.repository.findById(spaceId, tx.db, { forUpdate: true });
      if (!space) {
        throw DomainError.notFound('space', spaceId);
      }
      assertAgentScope(principal, space.agent_id, 'spaces:manage', { what: 'space', id: spaceId });

      const changes: { name?: string; privacy_mode?: boolean } = {};
      if (patch.name !== undefined && patch.name !== space.name) {
        changes.name = patch.name;
      }
      if (patch.privacy_mode !== undefined && patch.privacy_mode !== space.privacy_mode) {
        changes.privacy_mode = patch.privacy_mode;
      }
      if (changes.name === undefined && changes.privacy_mode === undefined) {
        return space;
      }
      if (changes.name !== undefined) {
        await this.repository.lockName(space.agent_id, changes.name, tx.db);
        if (await this.repository.findByName(space.agent_id, changes.name, tx.db)) {
          throw nameTaken(changes.name);
        }
      }

      let changed: SpaceRow;
      try {
        changed = await this.repository.update(spaceId, changes, tx.db);
      } catch (error) {
        // Backstop for a writer that does not take the name lock (ensure() at bootstrap).
        if (changes.name !== undefined && isUniqueViolation(error)) {
          throw nameTaken(changes.name);
        }
        throw error;
      }
      if (changes.privacy_mode !== undefined) {
        await this.audit.append(tx, {
          agentId: space.agent_id,
          action: 'space.privacy_mode_changed',
          actor: { type: principal.type, id: principal.id },
          subject: { type: 'space', id: spaceId },
          details: { privacy_mode: changes.privacy_mode, previous: space.privacy_mode },
        });
      }
      return changed;
    });
    return toSpaceView(updated);
  }
}
