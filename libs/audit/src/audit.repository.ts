import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { InjectKysely, type Database, type Executor } from '@marvain/db';

export interface ChainHead {
  last_seq: number;
  head_hash: string;
}

export interface StoredEntry {
  seq: number;
  body: string;
  hash: string;
}

export interface UnsunkEntry {
  chain_id: string;
  seq: number;
  body: string;
}

@Injectable()
export class AuditRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /**
   * Locks the chain's head row for the rest of the transaction (creating it at genesis if new)
   * and returns it, in one statement: ON CONFLICT DO UPDATE takes the row lock and RETURNING
   * yields the latest committed head, so concurrent appends queue up behind each other.
   */
  async lockHead(chainId: string, agentId: string | null, genesis: string, executor: Executor): Promise<ChainHead> {
    const result = await sql<{ last_seq: string; head_hash: string }>`
      INSERT INTO audit_state (chain_id, agent_id, last_seq, head_hash)
      VALUES (${chainId}::text, ${agentId}::uuid, 0, ${genesis}::text)
      ON CONFLICT (chain_id) DO UPDATE SET chain_id = EXCLUDED.chain_id
      RETURNING last_seq::text AS last_seq, head_hash`.execute(executor);
    const row = result.rows[0];
    if (!row) {
      throw new Error(`audit chain ${chainId} has no head row`);
    }
    return { last_seq: Number(row.last_seq), head_hash: row.head_hash };
  }

  /** Writes the entry and advances the chain's head, in one statement. */
  async appendEntry(
    entry: { chain_id: string; seq: number; agent_id: string | null; body: string; hash: string },
    executor: Executor,
  ): Promise<void> {
    await sql`
      WITH entry AS (
        INSERT INTO audit_entries (chain_id, seq, agent_id, body, hash)
        VALUES (${entry.chain_id}::text, ${entry.seq}::bigint, ${entry.agent_id}::uuid, ${entry.body}::text, ${entry.hash}::text)
      )
      UPDATE audit_state SET last_seq = ${entry.seq}::bigint, head_hash = ${entry.hash}::text, updated_at = now()
      WHERE chain_id = ${entry.chain_id}::text`.execute(executor);
  }

  async head(chainId: string): Promise<ChainHead | null> {
    const row = await this.db
      .selectFrom('audit_state')
      .select([sql<string>`last_seq::text`.as('last_seq'), 'head_hash'])
      .where('chain_id', '=', chainId)
      .executeTakeFirst();
    return row ? { last_seq: Number(row.last_seq), head_hash: row.head_hash } : null;
  }

  /** The database copy of a chain's entries, in order. */
  async entries(chainId: string): Promise<StoredEntry[]> {
    const rows = await this.db
      .selectFrom('audit_entries')
      .select([sql<string>`seq::text`.as('seq'), 'body', 'hash'])
      .where('chain_id', '=', chainId)
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({ seq: Number(r.seq), body: r.body, hash: r.hash }));
  }

  /** Entries not yet copied, in (chain, seq) order, after `after` when given (a flush pass's cursor). */
  async unsunk(limit: number, after: { chain_id: string; seq: number } | null = null): Promise<UnsunkEntry[]> {
    let query = this.db
      .selectFrom('audit_entries')
      .select(['chain_id', sql<string>`seq::text`.as('seq'), 'body'])
      .where('sunk_at', 'is', null);
    if (after) {
      query = query.where(sql<boolean>`(chain_id, seq) > (${after.chain_id}::text, ${after.seq}::bigint)`);
    }
    const rows = await query.orderBy('chain_id').orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ chain_id: r.chain_id, seq: Number(r.seq), body: r.body }));
  }

  async markSunk(chainId: string, seqs: number[]): Promise<void> {
    if (seqs.length === 0) {
      return;
    }
    await this.db
      .updateTable('audit_entries')
      .set({ sunk_at: sql`now()` })
      .where('chain_id', '=', chainId)
      .where(sql<boolean>`seq = ANY(${`{${seqs.join(',')}}`}::bigint[])`)
      .execute();
  }
}
