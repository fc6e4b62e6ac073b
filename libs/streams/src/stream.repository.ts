import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { STREAM_TOPICS, type StreamEntry, type StreamTopic } from '@marvain/contracts';
import { asJson, asTimestamp, asUuid, InjectKysely, type Database, type Executor } from '@marvain/db';

export interface NewStreamEntry {
  agent_id: string;
  topic: StreamTopic;
  space_id: string | null;
  /** The changed thing as its REST view shows it (a view class or a plain object), stored as JSON. */
  data: object;
}

export interface StreamFilter {
  topics?: readonly StreamTopic[];
  spaceId?: string;
}

interface StreamRow {
  agent_id: string;
  seq: string | number;
  topic: string;
  space_id: string | null;
  data: Record<string, unknown> | string;
  created_at: Date | string;
}

@Injectable()
export class StreamRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /**
   * Takes the agent's next seq and writes the entry, in one statement. The head row stays locked
   * until the caller's transaction ends, so the agent's seqs commit in order with no gap.
   */
  async append(entry: NewStreamEntry, executor: Executor): Promise<StreamEntry> {
    const result = await sql<StreamRow>`
      WITH head AS (
        INSERT INTO agent_stream_heads (agent_id, last_seq) VALUES (${asUuid(entry.agent_id)}, 1)
        ON CONFLICT (agent_id) DO UPDATE SET last_seq = agent_stream_heads.last_seq + 1
        RETURNING last_seq
      )
      INSERT INTO agent_stream (agent_id, seq, topic, space_id, data)
      SELECT ${asUuid(entry.agent_id)}, head.last_seq, ${entry.topic},
             ${entry.space_id === null ? null : asUuid(entry.space_id)}, ${asJson(entry.data)}
      FROM head
      RETURNING agent_id, seq, topic, space_id, data, created_at`.execute(executor);
    const row = result.rows[0];
    if (!row) {
      throw new Error(`no stream entry was written for agent ${entry.agent_id}`);
    }
    return toEntry(row);
  }

  /** Entries with seq ≥ fromSeq, oldest first, at most `limit`. */
  async readFrom(
    agentId: string,
    fromSeq: number,
    limit: number,
    filter: StreamFilter = {},
    executor: Executor = this.db,
  ): Promise<StreamEntry[]> {
    let query = executor
      .selectFrom('agent_stream')
      .select(['agent_id', 'seq', 'topic', 'space_id', 'data', 'created_at'])
      .where('agent_id', '=', asUuid(agentId))
      .where('seq', '>=', sql<string>`${fromSeq}::bigint`);
    if (filter.topics) {
      query = query.where('topic', 'in', filter.topics.length > 0 ? [...filter.topics] : ['']);
    }
    if (filter.spaceId) {
      query = query.where('space_id', '=', asUuid(filter.spaceId));
    }
    const rows = await query.orderBy('seq').limit(limit).execute();
    return rows.map(toEntry);
  }

  /** The agent's last committed seq (0 when its stream is empty). */
  async head(agentId: string, executor: Executor = this.db): Promise<number> {
    const row = await executor
      .selectFrom('agent_stream_heads')
      .select('last_seq')
      .where('agent_id', '=', asUuid(agentId))
      .executeTakeFirst();
    return row ? Number(row.last_seq) : 0;
  }

  /** The oldest seq still stored for the agent, or null when none is. */
  async oldest(agentId: string, executor: Executor = this.db): Promise<number | null> {
    const row = await executor
      .selectFrom('agent_stream')
      .select((eb) => eb.fn.min('seq').as('oldest'))
      .where('agent_id', '=', asUuid(agentId))
      .executeTakeFirst();
    // min() of no rows is NULL, whatever Kysely's type says.
    const oldest: unknown = row?.oldest;
    return oldest === null || oldest === undefined ? null : Number(oldest);
  }

  /**
   * Deletes entries older than `before`, keeping each agent's newest entry so the oldest available
   * seq stays known. Returns how many were deleted.
   */
  async deleteOlderThan(before: Date, executor: Executor = this.db): Promise<number> {
    const result = await executor
      .deleteFrom('agent_stream')
      .where('created_at', '<', asTimestamp(before))
      .where((eb) =>
        eb(
          'seq',
          '<',
          eb
            .selectFrom('agent_stream_heads as h')
            .select('h.last_seq')
            .whereRef('h.agent_id', '=', 'agent_stream.agent_id'),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toEntry(row: StreamRow): StreamEntry {
  const topic = STREAM_TOPICS.find((known) => known === row.topic);
  if (!topic) {
    throw new Error(`stream entry ${row.agent_id}/${row.seq} has an unknown topic "${row.topic}"`);
  }
  return {
    seq: Number(row.seq),
    agent_id: row.agent_id,
    topic,
    space_id: row.space_id,
    data: typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data,
    at: new Date(row.created_at).toISOString(),
  };
}
