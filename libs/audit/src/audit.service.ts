import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Tx } from '@marvain/db';
import { AUDIT_SINK, CLOCK, canonicalJson, type AuditSink, type Clock } from '@marvain/platform';
import { AuditRepository } from './audit.repository';
import { GENESIS_HASH, SYSTEM_CHAIN, type AuditEntry, type AuditRecord, type AuditVerification } from './audit.types';

export function hashEntry(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(entry)).digest('hex');
}

const FLUSH_BATCH = 200;

export function auditKey(chainId: string, seq: number): string {
  return `chains/${chainId}/${String(seq).padStart(12, '0')}.json`;
}

/**
 * The tamper-evident log. An entry is chained (SHA-256 over its canonical JSON, which
 * includes the previous entry's hash) inside the caller's transaction, so it exists exactly
 * when the change it records does; after commit it is copied to the write-once sink.
 */
@Injectable()
export class AuditService implements OnModuleDestroy {
  private readonly logger = new Logger('Audit');
  private flushing: Promise<number> | null = null;
  private flushAgain = false;

  constructor(
    private readonly repository: AuditRepository,
    @Inject(AUDIT_SINK) private readonly sink: AuditSink,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async append(tx: Tx, record: AuditRecord): Promise<AuditEntry> {
    const chainId = record.agentId ?? SYSTEM_CHAIN;
    const head = await this.repository.lockHead(tx.db, chainId, record.agentId, GENESIS_HASH);
    const unsigned: Omit<AuditEntry, 'hash'> = {
      chain_id: chainId,
      seq: head.last_seq + 1,
      prev_hash: head.head_hash,
      ts: this.clock.now().toISOString(),
      agent_id: record.agentId,
      action: record.action,
      actor: record.actor,
      ...(record.subject ? { subject: record.subject } : {}),
      ...(record.details ? { details: record.details } : {}),
    };
    const entry: AuditEntry = { ...unsigned, hash: hashEntry(unsigned) };
    await this.repository.appendEntry(tx.db, {
      chain_id: chainId,
      seq: entry.seq,
      agent_id: record.agentId,
      body: canonicalJson(entry),
      hash: entry.hash,
    });
    tx.afterCommit(() => {
      this.flushSoon();
    });
    return entry;
  }

  /** Lets a copy already under way finish before shutdown closes the database under it. */
  async onModuleDestroy(): Promise<void> {
    await this.flushing?.catch(() => undefined);
  }

  /** Copies committed entries to the sink; single-flight, safe to call any time. */
  flush(): Promise<number> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      let total = 0;
      try {
        do {
          this.flushAgain = false;
          total += await this.flushBatches();
        } while (this.flushRequestedMeanwhile());
      } finally {
        this.flushing = null;
      }
      return total;
    })();
    return this.flushing;
  }

  // A method, not the field: flush() sets the flag while flushBatches() awaits.
  private flushRequestedMeanwhile(): boolean {
    return this.flushAgain;
  }

  private flushSoon(): void {
    this.flush().catch((error: unknown) => this.logger.error(`audit flush failed, will retry: ${String(error)}`));
  }

  private async flushBatches(): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = await this.repository.unsunk(FLUSH_BATCH);
      if (batch.length === 0) return total;
      const byChain = new Map<string, number[]>();
      for (const entry of batch) {
        await this.sink.put(auditKey(entry.chain_id, entry.seq), entry.body);
        byChain.set(entry.chain_id, [...(byChain.get(entry.chain_id) ?? []), entry.seq]);
      }
      for (const [chainId, seqs] of byChain) await this.repository.markSunk(chainId, seqs);
      total += batch.length;
      // A short batch was everything there was: no need to ask again.
      if (batch.length < FLUSH_BATCH) return total;
    }
  }

  /** Recomputes the chain from the write-once copies and compares it with the recorded head. */
  async verify(agentId: string | null): Promise<AuditVerification> {
    const chainId = agentId ?? SYSTEM_CHAIN;
    await this.flush();
    const head = await this.repository.head(chainId);
    const keys = await this.sink.list(`chains/${chainId}`);
    let prevHash = GENESIS_HASH;
    let seq = 0;
    const fail = (badSeq: number, reason: string): AuditVerification => ({
      ok: false,
      chain_id: chainId,
      entries: keys.length,
      head: head ? { seq: head.last_seq, hash: head.head_hash } : null,
      first_bad_seq: badSeq,
      reason,
    });
    for (const key of keys) {
      seq += 1;
      if (key !== auditKey(chainId, seq)) return fail(seq, `entry ${seq} is missing`);
      const body = await this.sink.get(key);
      let entry: AuditEntry;
      try {
        entry = JSON.parse(body ?? '') as AuditEntry;
      } catch {
        return fail(seq, `entry ${seq} is not valid JSON`);
      }
      const { hash, ...unsigned } = entry;
      if (entry.seq !== seq || entry.chain_id !== chainId) return fail(seq, `entry ${seq} claims another position`);
      if (entry.prev_hash !== prevHash) return fail(seq, `entry ${seq} does not link to the entry before it`);
      if (hashEntry(unsigned) !== hash || canonicalJson(entry) !== body) return fail(seq, `entry ${seq} was altered`);
      prevHash = hash;
    }
    if (!head) {
      return keys.length === 0 ? { ok: true, chain_id: chainId, entries: 0, head: null } : fail(1, 'entries exist for a chain with no recorded head');
    }
    if (head.last_seq !== seq || head.head_hash !== prevHash) {
      return fail(Math.min(seq, head.last_seq) + 1, `the recorded head (seq ${head.last_seq}) does not match the stored entries (seq ${seq})`);
    }
    return { ok: true, chain_id: chainId, entries: seq, head: { seq: head.last_seq, hash: head.head_hash } };
  }
}
