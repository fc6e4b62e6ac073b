import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@marvain/contracts';
import { DatabaseInfo, type MemoryRow, type Tx } from '@marvain/db';
import { assertAgentScope, nextCursor, pageRequest } from '@marvain/platform';
import { EMBEDDER, type Embedder } from './embedder';
import type { ListMemoriesQuery, MemoryList, MemoryView } from './memory.dto';
import { MemoryRepository, type NewMemory } from './memory.repository';

function toMemoryView(row: MemoryRow): MemoryView {
  return { ...row, created_at: row.created_at.toISOString() };
}

@Injectable()
export class MemoryService {
  constructor(
    private readonly repository: MemoryRepository,
    private readonly database: DatabaseInfo,
    @Inject(EMBEDDER) private readonly embedder: Embedder,
  ) {}

  async list(principal: Principal, query: ListMemoriesQuery): Promise<MemoryList> {
    assertAgentScope(principal, query.agent_id, 'memories:read');
    const page = await this.repository.list(
      {
        agentId: query.agent_id,
        ...(query.tier ? { tier: query.tier } : {}),
        ...(query.space_id ? { spaceId: query.space_id } : {}),
      },
      pageRequest(query),
    );
    return { memories: page.rows.map(toMemoryView), next_cursor: nextCursor(page) };
  }

  /** Writes memories inside the caller's transaction, with embeddings where vector search exists. */
  async write(tx: Tx, memories: ReadonlyArray<Omit<NewMemory, 'embedding'>>): Promise<number> {
    const vectors = this.database.vector ? await this.embedder.embed(memories.map((m) => m.content)) : [];
    return this.repository.insertMany(
      memories.map((memory, i) => ({ ...memory, embedding: vectors[i] ?? null })),
      tx.db,
    );
  }

  async recent(agentId: string, limit: number): Promise<MemoryRow[]> {
    return (await this.repository.list({ agentId }, { limit })).rows;
  }
}
