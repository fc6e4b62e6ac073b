import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { MembershipRole } from '@marvain/contracts';
import type { Database } from '@marvain/db';

/*
 * Reading and writing rows straight in the tables, for specs that check what a service recorded
 * or need a bare row without going through the service that normally makes it.
 */

/**
 * What specs read of a stored audit entry (its `body`, the canonical JSON of the whole entry; the
 * full shape is AuditEntry in @marvain/audit).
 */
export interface AuditEntryBody {
  seq: number;
  action: string;
  actor: { type: string; id: string };
  subject?: { type: string; id: string };
  details?: Record<string, unknown>;
}

export interface AuditEntryFilter {
  /** Only this agent's chain; every chain (the system chain too) when left out. */
  agentId?: string;
  /** Only the entries about this subject (an action, a device, a consent…). */
  subjectId?: string;
}

/** The audit entries in the database, oldest first (chain by chain when there are several). */
export async function auditEntries(db: Kysely<Database>, filter: AuditEntryFilter = {}): Promise<AuditEntryBody[]> {
  let query = db.selectFrom('audit_entries').select('body').orderBy('chain_id').orderBy('seq');
  if (filter.agentId !== undefined) {
    query = query.where('chain_id', '=', filter.agentId);
  }
  const entries = (await query.execute()).map((row) => JSON.parse(row.body) as AuditEntryBody);
  return filter.subjectId === undefined ? entries : entries.filter((entry) => entry.subject?.id === filter.subjectId);
}

/** The actions of those entries (`agent.created`, `device.revoked`…), oldest first. */
export async function auditActions(db: Kysely<Database>, filter: AuditEntryFilter = {}): Promise<string[]> {
  return (await auditEntries(db, filter)).map((entry) => entry.action);
}

/** Bare agent rows (no owner, space or device), one per name; their ids in the same order. */
export async function insertAgents<const Names extends readonly string[]>(
  db: Kysely<Database>,
  names: Names,
): Promise<{ -readonly [K in keyof Names]: string }> {
  const ids: string[] = [];
  for (const name of names) {
    const result = await sql<{
      agent_id: string;
    }>`INSERT INTO agents (name) VALUES (${name}) RETURNING agent_id`.execute(db);
    ids.push(onlyRow(result.rows).agent_id);
  }
  return ids as { -readonly [K in keyof Names]: string };
}

/**
 * A new user holding `role` on the agent, written straight to the tables (no audit entry). The
 * spec issues the user a token for `subject` to resolve it as a principal.
 */
export async function insertMember(
  db: Kysely<Database>,
  agentId: string,
  role: MembershipRole,
): Promise<{ userId: string; subject: string }> {
  const subject = `local:${randomUUID()}`;
  const user = await sql<{
    user_id: string;
  }>`INSERT INTO users (subject) VALUES (${subject}) RETURNING user_id`.execute(db);
  const userId = onlyRow(user.rows).user_id;
  await sql`INSERT INTO agent_memberships (agent_id, user_id, role) VALUES (${agentId}::uuid, ${userId}::uuid, ${role})`.execute(
    db,
  );
  return { userId, subject };
}

function onlyRow<Row>(rows: readonly Row[]): Row {
  const [row] = rows;
  if (rows.length !== 1 || row === undefined) {
    throw new Error(`expected one row back, got ${rows.length}`);
  }
  return row;
}
