import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Tx } from '@marvain/db';
import {
  AUDIT_SINK,
  AuditSinkConflictError,
  CLOCK,
  canonicalJson,
  LoggerFactory,
  type AuditSink,
  type Clock,
  type HubLogger,
} from '@marvain/platform';
import { AuditRepository, type UnsunkEntry } from './audit.repository';
import {
  GENESIS_HASH,
  MAX_REPORTED_PROBLEMS,
  SYSTEM_CHAIN,
  type AuditEntry,
  type AuditProblem,
  type AuditProblemKind,
  type AuditRecord,
  type AuditVerification,
} from './audit.types';

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
  private readonly logger: HubLogger;
  private flushing: Promise<number> | null = null;
  private flushAgain = false;
  /** Keys found to conflict in this process: logged once, then skipped (a restart tries again). */
  private readonly conflicting = new Set<string>();

  constructor(
    private readonly repository: AuditRepository,
    @Inject(AUDIT_SINK) private readonly sink: AuditSink,
    @Inject(CLOCK) private readonly clock: Clock,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Audit');
  }

  async append(tx: Tx, record: AuditRecord): Promise<AuditEntry> {
    const chainId = record.agentId ?? SYSTEM_CHAIN;
    const head = await this.repository.lockHead(chainId, record.agentId, GENESIS_HASH, tx.db);
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
    await this.repository.appendEntry(
      { chain_id: chainId, seq: entry.seq, agent_id: record.agentId, body: canonicalJson(entry), hash: entry.hash },
      tx.db,
    );
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

  /**
   * One pass over the entries not yet copied. A pass moves forward through (chain, seq), so an
   * entry whose key already holds other bytes (a conflict: the folder belongs to another
   * database, or was tampered with) is skipped and reported, and every other chain is still
   * copied; the conflicting row stays uncopied and verify names it.
   */
  private async flushBatches(): Promise<number> {
    let total = 0;
    let after: { chain_id: string; seq: number } | null = null;
    for (;;) {
      const batch = await this.repository.unsunk(FLUSH_BATCH, after);
      if (batch.length === 0) {
        return total;
      }
      const byChain = new Map<string, number[]>();
      try {
        for (const entry of batch) {
          const key = auditKey(entry.chain_id, entry.seq);
          // Write-once: a key known to conflict will not stop conflicting, so it is not retried.
          if (this.conflicting.has(key)) {
            continue;
          }
          try {
            await this.sink.put(key, entry.body);
          } catch (error) {
            if (!(error instanceof AuditSinkConflictError)) {
              throw error;
            }
            this.reportConflict(key);
            continue;
          }
          byChain.set(entry.chain_id, [...(byChain.get(entry.chain_id) ?? []), entry.seq]);
        }
      } finally {
        // What was copied stays copied, even when the sink failed part-way.
        for (const [chainId, seqs] of byChain) {
          await this.repository.markSunk(chainId, seqs);
        }
      }
      total += [...byChain.values()].reduce((n, seqs) => n + seqs.length, 0);
      // A short batch was everything there was: no need to ask again.
      if (batch.length < FLUSH_BATCH) {
        return total;
      }
      const last = batch[batch.length - 1] as UnsunkEntry;
      after = { chain_id: last.chain_id, seq: last.seq };
    }
  }

  private reportConflict(key: string): void {
    this.conflicting.add(key);
    this.logger.error(
      `audit entry ${key} conflicts with the write-once object already at ${this.sink.location}; it is not copied, and GET /v1/audit/verify reports it`,
    );
  }

  /**
   * Recomputes the chain from the write-once copies, compares each with its database row
   * (audit_entries) and the chain with its recorded head (audit_state). Every problem is
   * reported with its sequence number and what is wrong; nothing found in the store throws.
   */
  async verify(agentId: string | null): Promise<AuditVerification> {
    const chainId = agentId ?? SYSTEM_CHAIN;
    await this.flush();
    const head = await this.repository.head(chainId);
    const rows = new Map((await this.repository.entries(chainId)).map((row) => [row.seq, row]));
    const prefix = `chains/${chainId}`;
    const objects = new Map<number, string>();
    const problems: AuditProblem[] = [];
    const problem = (seq: number | null, kind: AuditProblemKind, message: string): void => {
      problems.push({ seq, kind, message });
    };
    for (const key of await this.sink.list(prefix)) {
      const match = ENTRY_NAME.exec(key.slice(prefix.length + 1));
      const seq = match ? Number(match[1]) : 0;
      if (match && seq > 0 && key === auditKey(chainId, seq)) {
        objects.set(seq, key);
      } else {
        problem(null, 'stray_object', `${key} is not an entry of chain ${chainId} (a stray object)`);
      }
    }

    const headSeq = head?.last_seq ?? 0;
    // (A loop, not Math.max(...keys): a long chain would exceed the argument limit.)
    let lastSeq = headSeq;
    for (const seq of [...objects.keys(), ...rows.keys()]) {
      if (seq > lastSeq) {
        lastSeq = seq;
      }
    }
    // The hash the next entry must link to; null once a link cannot be known (nothing readable).
    let prevHash: string | null = GENESIS_HASH;
    let headEntryHash: string | null = headSeq === 0 ? GENESIS_HASH : null;
    for (let seq = 1; seq <= lastSeq; seq += 1) {
      const key = objects.get(seq);
      const row = rows.get(seq);
      if (seq > headSeq) {
        const where = [key ? 'a write-once object' : null, row ? 'a database row' : null].filter(Boolean).join(' and ');
        problem(seq, 'extra_entry', `entry ${seq} exists (${where}) beyond the recorded head (seq ${headSeq})`);
        continue;
      }
      const rowEntry = row ? parseEntry(row.body) : null;
      const consistentRow =
        row && rowEntry && isSelfConsistent(rowEntry, row.body) && rowEntry.hash === row.hash
          ? { ...row, entry: rowEntry }
          : null;
      let object: { body: string; entry: AuditEntry | null } | null = null;
      if (!key) {
        problem(seq, 'missing_object', `entry ${seq} is missing from the write-once store ${this.sink.location}`);
      } else {
        const read = await this.readObject(key);
        if (read.error !== null) {
          problem(seq, 'unreadable_object', `entry ${seq}: its object ${key} cannot be read (${read.error})`);
        } else if (read.body === null) {
          problem(seq, 'missing_object', `entry ${seq} is missing from the write-once store ${this.sink.location}`);
        } else {
          object = { body: read.body, entry: parseEntry(read.body) };
        }
      }
      const objectProblems = problems.length;
      if (object && !object.entry) {
        problem(seq, 'invalid_object', `entry ${seq}: its object ${auditKey(chainId, seq)} is not a JSON audit entry`);
      }
      const entry = object?.entry ?? null;
      if (object && entry) {
        if (entry.seq !== seq || entry.chain_id !== chainId) {
          problem(
            seq,
            'wrong_position',
            `entry ${seq}: its object claims seq ${JSON.stringify(entry.seq)} of chain ${JSON.stringify(entry.chain_id)}`,
          );
        } else if (!isSelfConsistent(entry, object.body)) {
          problem(
            seq,
            'altered_object',
            `entry ${seq}: its object was altered (its content no longer matches its hash ${short(entry.hash)})`,
          );
        } else if (prevHash !== null && entry.prev_hash !== prevHash) {
          problem(
            seq,
            'broken_link',
            `entry ${seq} does not link to entry ${seq - 1} (prev_hash ${short(entry.prev_hash)}, expected ${short(prevHash)})`,
          );
        }
      }
      // The database copy of the same entry.
      if (!row) {
        if (object) {
          problem(seq, 'missing_row', `entry ${seq}: its database row (audit_entries) is missing`);
        }
      } else if (!consistentRow) {
        problem(
          seq,
          'altered_row',
          `entry ${seq}: its database row was altered (its body no longer matches its hash ${short(row.hash)})`,
        );
      } else if (object && object.body !== row.body && problems.length === objectProblems) {
        // (When the object is itself faulty, that problem already says which copy is wrong.)
        problem(
          seq,
          'copies_differ',
          `entry ${seq}: the write-once object (hash ${short(entry?.hash)}) differs from the database row (hash ${short(row.hash)})`,
        );
      } else if (!object && prevHash !== null && consistentRow.entry.prev_hash !== prevHash) {
        problem(seq, 'broken_link', `entry ${seq}'s database row does not link to entry ${seq - 1}`);
      }
      // Follow the chain by the hash each entry claims, so one bad entry is reported once.
      prevHash = typeof entry?.hash === 'string' ? entry.hash : (consistentRow?.hash ?? null);
      if (seq === headSeq) {
        headEntryHash = prevHash;
      }
    }
    if (head && headEntryHash !== null && head.head_hash !== headEntryHash) {
      problem(
        headSeq,
        'head_mismatch',
        `the recorded head hash (${short(head.head_hash)}) is not entry ${headSeq}'s hash (${short(headEntryHash)})`,
      );
    }
    if (!head && objects.size > 0) {
      problem(1, 'head_mismatch', `chain ${chainId} has entries but no recorded head`);
    }

    const result: AuditVerification = {
      ok: problems.length === 0,
      chain_id: chainId,
      entries: objects.size,
      head: head ? { seq: head.last_seq, hash: head.head_hash } : null,
    };
    const first = problems.find((p) => p.seq !== null) ?? problems[0];
    if (!first) {
      return result;
    }
    return {
      ...result,
      first_bad_seq: first.seq ?? 0,
      reason: first.message,
      problems: problems.slice(0, MAX_REPORTED_PROBLEMS),
    };
  }

  private async readObject(key: string): Promise<{ body: string | null; error: string | null }> {
    try {
      return { body: await this.sink.get(key), error: null };
    } catch (error) {
      return {
        body: null,
        error: (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error)),
      };
    }
  }
}

const ENTRY_NAME = /^(\d{12})\.json$/;

function parseEntry(body: string): AuditEntry | null {
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as AuditEntry) : null;
  } catch {
    return null;
  }
}

/** The entry's hash is over its own content, and the text is exactly its canonical form. */
function isSelfConsistent(entry: AuditEntry, body: string): boolean {
  const { hash, ...unsigned } = entry;
  try {
    return typeof hash === 'string' && hashEntry(unsigned) === hash && canonicalJson(entry) === body;
  } catch {
    return false;
  }
}

function short(hash: string | null | undefined): string {
  return typeof hash === 'string' ? `${hash.slice(0, 12)}…` : 'none';
}
