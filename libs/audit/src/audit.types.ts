import type { PrincipalType } from '@marvain/contracts';

/** What a caller asks to record. */
export interface AuditRecord {
  /** The agent whose chain the entry joins; null for hub-wide events (schema changes). */
  agentId: string | null;
  action: string;
  actor: { type: PrincipalType | 'system'; id: string };
  subject?: { type: string; id: string };
  details?: Record<string, unknown>;
}

/** One link of the chain, exactly as stored (canonical JSON of all fields). */
export interface AuditEntry {
  chain_id: string;
  seq: number;
  prev_hash: string;
  ts: string;
  agent_id: string | null;
  action: string;
  actor: { type: string; id: string };
  subject?: { type: string; id: string };
  details?: Record<string, unknown>;
  hash: string;
}

/** What is wrong with one entry (or object) of a chain. */
export type AuditProblemKind =
  /** The database's head (audit_state) names an entry whose write-once object is absent. */
  | 'missing_object'
  /** An object under the chain's prefix that is not an entry's key (a stray file). */
  | 'stray_object'
  /** An entry object (and/or row) beyond the recorded head. */
  | 'extra_entry'
  /** The object exists but cannot be read as a file (a directory in its place, permissions). */
  | 'unreadable_object'
  /** The object is not JSON. */
  | 'invalid_object'
  /** The object claims another chain or sequence number than its key. */
  | 'wrong_position'
  /** The object's content does not match its own hash (or is not in canonical form). */
  | 'altered_object'
  /** The entry's prev_hash is not the hash of the entry before it. */
  | 'broken_link'
  /** The write-once object exists, its database row (audit_entries) does not. */
  | 'missing_row'
  /** The database row does not match its own hash: it was altered. */
  | 'altered_row'
  /** Row and object are each consistent but differ (one of the two copies was rewritten). */
  | 'copies_differ'
  /** The recorded head (audit_state) does not match the chain (by sequence number or by hash). */
  | 'head_mismatch';

export interface AuditProblem {
  /** The entry concerned; null for an object that names no entry (a stray file). */
  seq: number | null;
  kind: AuditProblemKind;
  message: string;
}

export interface AuditVerification {
  ok: boolean;
  chain_id: string;
  /** Entry objects found in the write-once store. */
  entries: number;
  head: { seq: number; hash: string } | null;
  /** The first sequence number that does not verify, when ok is false (0 when only stray objects were found). */
  first_bad_seq?: number;
  /** The first problem's message. */
  reason?: string;
  /** Every problem found, in chain order (at most MAX_REPORTED_PROBLEMS). */
  problems?: AuditProblem[];
}

export const MAX_REPORTED_PROBLEMS = 100;

export const SYSTEM_CHAIN = 'system';
export const GENESIS_HASH = '0'.repeat(64);
