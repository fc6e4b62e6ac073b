import { Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import {
  asJson,
  asUuid,
  asVector,
  InjectKysely,
  keysetPage,
  type Database,
  type Executor,
  type MemoryRow,
  type Page,
  type PageRequest,
} from '@marvain/db';

/** The default select list: never the embedding (only recall reads vectors). */
export const MEMORY_COLUMNS = [
  'memory_id',
  'agent_id',
  'space_id',
  'tier',
  'content',
  'source_event_id',
  'provenance',
  'created_at',
] as const;

export interface NewMemory {
  memory_id: string;
  agent_id: string;
  space_id: string | null;
  tier: string;
  content: string;
  source_event_id: string | null;
  provenance: Record<string, unknown>;
  embedding: number[] | null;
}

@Injectable()
export class MemoryRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /**
   * Inserts memories, skipping ids that exist (a retried write-back writes nothing twice).
   * Returns the rows it inserted (without embeddings), in input order.
   */
  async insertMany(memories: readonly NewMemory[], executor: Executor = this.db): Promise<MemoryRow[]> {
    const written: MemoryRow[] = [];
    for (const memory of memories) {
      const row = await executor
        .insertInto('memories')
        .values({
          memory_id: asUuid(memory.memory_id),
          agent_id: asUuid(memory.agent_id),
          space_id: memory.space_id === null ? null : asUuid(memory.space_id),
          tier: memory.tier,
          content: memory.content,
          source_event_id: memory.source_event_id === null ? null : asUuid(memory.source_event_id),
          provenance: asJson(memory.provenance),
          ...(memory.embedding ? { embedding: asVector(memory.embedding) } : {}),
        })
        .onConflict((oc) => oc.column('memory_id').doNothing())
        .returning(MEMORY_COLUMNS)
        .executeTakeFirst();
      if (row) {
        written.push(row);
      }
    }
    return written;
  }

  /** One page of the agent's memories, newest first (ties by id). */
  async list(
    query: { agentId: string; tier?: string; spaceId?: string },
    page: PageRequest,
    executor: Executor = this.db,
  ): Promise<Page<MemoryRow>> {
    let select = executor.selectFrom('memories').select(MEMORY_COLUMNS).where('agent_id', '=', asUuid(query.agentId));
    if (query.tier) {
      select = select.where('tier', '=', query.tier);
    }
    if (query.spaceId) {
      select = select.where('space_id', '=', asUuid(query.spaceId));
    }
    return keysetPage(select, { at: 'created_at', id: 'memory_id', direction: 'desc' }, page);
  }
}
