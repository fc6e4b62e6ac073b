import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '@marvain/contracts';
import { DatabaseInfo, type MemoryRow, type Tx } from '@marvain/db';
import { assertAgentScope, nextCursor, pageRequest } from '@marvain/platform';
import { AgentStream } from '@marvain/streams';
import { EMBEDDER, type Embedder } from './embedder';
import type { ListMemoriesQuery, MemoryList, MemoryView } from './memory.dto';
import { MemoryRepository, type NewMemory } from './memory.repository';

export function toMemoryView(row: MemoryRow): MemoryView {
  return { ...row, created_at: row.created_at.toISOString() };
}

@Injectable()
export class MemoryService {
  constructor(
    private readonly repository: MemoryRepository,
    private readonly database: DatabaseInfo,
    @Inject(EMBEDDER) private readonly embedder: Embedder,
    private readonly stream: AgentStream,
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

  /**
   * Writes memories inside the caller's transaction, with embeddings where vector search exists,
   * and one `memories.new` stream entry per memory it inserted (an id that exists writes neither).
   * Returns how many it inserted.
   */
  async write(tx: Tx, memories: ReadonlyArray<Omit<NewMemory, 'embedding'>>): Promise<number> {
    const vectors = this.database.vector ? await this.embedder.embed(memories.map((m) => m.content)) : [];
    const inserted = await this.repository.insertMany(
      memories.map((memory, i) => ({ ...memory, embedding: vectors[i] ?? null })),
      tx.db,
    );
    for (const row of inserted) {
      await this.stream.append(tx, {
        agent_id: row.agent_id,
        topic: 'memories.new',
        space_id: row.space_id,
        data: toMemoryView(row),
      });
    }
    return inserted.length;
  }

  async recent(agentId: string, limit: number): Promise<MemoryRow[]> {
    return (await this.repository.list({ agentId }, { limit })).rows;
  }
}
