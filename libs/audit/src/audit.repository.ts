import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { asUuid, InjectKysely, type Database, type Executor } from '@marvain/db';

export interface ChainHead {
  last_seq: number;
  head_hash: string;
}

export interface UnsunkEntry {
  chain_id: string;
  seq: number;
  body: string;
}

@Injectable()
export class AuditRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /** Locks the chain's head row for the rest of the transaction, creating it at genesis if new. */
  async lockHead(executor: Executor, chainId: string, agentId: string | null, genesis: string): Promise<ChainHead> {
    await executor
      .insertInto('audit_state')
      .values({ chain_id: chainId, agent_id: agentId === null ? null : asUuid(agentId), last_seq: sql<string>`0`, head_hash: genesis })
      .onConflict((oc) => oc.column('chain_id').doNothing())
      .execute();
    const row = await executor
      .selectFrom('audit_state')
      .select([sql<string>`last_seq::text`.as('last_seq'), 'head_hash'])
      .where('chain_id', '=', chainId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    return { last_seq: Number(row.last_seq), head_hash: row.head_hash };
  }

  async appendEntry(
    executor: Executor,
    entry: { chain_id: string; seq: number; agent_id: string | null; body: string; hash: string },
  ): Promise<void> {
    await executor
      .insertInto('audit_entries')
      .values({
        chain_id: entry.chain_id,
        seq: sql<string>`${entry.seq}::bigint`,
        agent_id: entry.agent_id === null ? null : asUuid(entry.agent_id),
        body: entry.body,
        hash: entry.hash,
      })
      .execute();
    await executor
      .updateTable('audit_state')
      .set({ last_seq: sql<string>`${entry.seq}::bigint`, head_hash: entry.hash, updated_at: sql`now()` })
      .where('chain_id', '=', entry.chain_id)
      .execute();
  }

  async head(chainId: string): Promise<ChainHead | null> {
    const row = await this.db
      .selectFrom('audit_state')
      .select([sql<string>`last_seq::text`.as('last_seq'), 'head_hash'])
      .where('chain_id', '=', chainId)
      .executeTakeFirst();
    return row ? { last_seq: Number(row.last_seq), head_hash: row.head_hash } : null;
  }

  async unsunk(limit: number): Promise<UnsunkEntry[]> {
    const rows = await this.db
      .selectFrom('audit_entries')
      .select(['chain_id', sql<string>`seq::text`.as('seq'), 'body'])
      .where('sunk_at', 'is', null)
      .orderBy('chain_id')
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ chain_id: r.chain_id, seq: Number(r.seq), body: r.body }));
  }

  async markSunk(chainId: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db
      .updateTable('audit_entries')
      .set({ sunk_at: sql`now()` })
      .where('chain_id', '=', chainId)
      .where(sql<boolean>`seq = ANY(${`{${seqs.join(',')}}`}::bigint[])`)
      .execute();
  }
}
