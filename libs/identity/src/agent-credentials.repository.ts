import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { asJson, asTimestamp, asUuid, InjectKysely, type AgentCredentialRow, type Database, type Executor } from '@marvain/db';

const CREDENTIAL_COLUMNS = ['credential_id', 'agent_id', 'alg', 'public_key', 'created_by', 'created_at', 'revoked_at'] as const;

export interface AssertionClaim {
  public_key: Record<string, unknown>;
  alg: string;
  agent_disabled: boolean;
  /** False when this jti was seen before: a replay. */
  fresh: boolean;
}

@Injectable()
export class AgentCredentialsRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(
    executor: Executor,
    credential: { credential_id: string; agent_id: string; alg: string; public_key: Record<string, unknown>; created_by: string | null },
  ): Promise<AgentCredentialRow> {
    return executor
      .insertInto('agent_credentials')
      .values({
        credential_id: asUuid(credential.credential_id),
        agent_id: asUuid(credential.agent_id),
        alg: credential.alg,
        public_key: asJson(credential.public_key),
        created_by: credential.created_by === null ? null : asUuid(credential.created_by),
      })
      .returning(CREDENTIAL_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** Revokes the agent's active credential (or one named credential); returns what it revoked. */
  async revoke(executor: Executor, agentId: string, credentialId?: string): Promise<AgentCredentialRow[]> {
    let update = executor
      .updateTable('agent_credentials')
      .set({ revoked_at: sql`now()` })
      .where('agent_id', '=', asUuid(agentId))
      .where('revoked_at', 'is', null);
    if (credentialId) update = update.where('credential_id', '=', asUuid(credentialId));
    return update.returning(CREDENTIAL_COLUMNS).execute();
  }

  async list(agentId: string): Promise<AgentCredentialRow[]> {
    return this.db
      .selectFrom('agent_credentials')
      .select(CREDENTIAL_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .orderBy('created_at', 'desc')
      .execute();
  }

  async find(agentId: string, credentialId: string): Promise<AgentCredentialRow | undefined> {
    return this.db
      .selectFrom('agent_credentials')
      .select(CREDENTIAL_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .where('credential_id', '=', asUuid(credentialId))
      .executeTakeFirst();
  }

  /** Whether the agent is enabled and has an active key (reads only: no assertion is claimed). */
  async hasUsableKey(agentId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('agent_credentials as c')
      .innerJoin('agents as a', 'a.agent_id', 'c.agent_id')
      .select('c.credential_id')
      .where('c.agent_id', '=', asUuid(agentId))
      .where('c.revoked_at', 'is', null)
      .where('a.disabled', '=', false)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * In one statement: the agent's active key, and the assertion id recorded as used. A jti that
   * was already recorded comes back with fresh = false, so no assertion is ever accepted twice.
   */
  async claimAssertion(agentId: string, jti: string, expiresAt: Date): Promise<AssertionClaim | undefined> {
    const result = await sql<{ public_key: Record<string, unknown>; alg: string; agent_disabled: boolean; fresh: boolean }>`
      WITH credential AS (
        SELECT c.public_key, c.alg, a.disabled AS agent_disabled
        FROM agent_credentials c JOIN agents a ON a.agent_id = c.agent_id
        WHERE c.agent_id = ${agentId}::uuid AND c.revoked_at IS NULL
      ), recorded AS (
        INSERT INTO agent_assertion_jtis (agent_id, jti, expires_at)
        SELECT ${agentId}::uuid, ${jti}::text, ${asTimestamp(expiresAt)} WHERE EXISTS (SELECT 1 FROM credential)
        ON CONFLICT (agent_id, jti) DO NOTHING
        RETURNING jti
      )
      SELECT credential.public_key, credential.alg, credential.agent_disabled, EXISTS (SELECT 1 FROM recorded) AS fresh
      FROM credential`.execute(this.db);
    return result.rows[0];
  }

  /** Forgets assertion ids past their expiry (an expired assertion is refused anyway). */
  async purgeExpiredJtis(): Promise<number> {
    const result = await this.db.deleteFrom('agent_assertion_jtis').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
