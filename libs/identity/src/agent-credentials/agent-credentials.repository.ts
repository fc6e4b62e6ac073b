import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import {
  asJson,
  asTimestamp,
  asUuid,
  InjectKysely,
  keysetPage,
  type AgentCredentialRow,
  type Database,
  type Executor,
  type Page,
  type PageRequest,
} from '@marvain/db';

const CREDENTIAL_COLUMNS = [
  'credential_id',
  'agent_id',
  'alg',
  'public_key',
  'created_by',
  'created_at',
  'revoked_at',
] as const;

export interface AssertionKey {
  credential_id: string;
  public_key: Record<string, unknown>;
  alg: string;
  agent_disabled: boolean;
}

@Injectable()
export class AgentCredentialsRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async insert(
    credential: {
      credential_id: string;
      agent_id: string;
      alg: string;
      public_key: Record<string, unknown>;
      created_by: string | null;
    },
    executor: Executor = this.db,
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

  /** Revokes the agent's active credentials (a replaced key); returns what it revoked. */
  async revokeActive(agentId: string, executor: Executor = this.db): Promise<AgentCredentialRow[]> {
    return this.revokeActiveOf(agentId, executor).returning(CREDENTIAL_COLUMNS).execute();
  }

  /** Revokes one of the agent's credentials; undefined when it is missing or already revoked. */
  async revoke(
    agentId: string,
    credentialId: string,
    executor: Executor = this.db,
  ): Promise<AgentCredentialRow | undefined> {
    return this.revokeActiveOf(agentId, executor)
      .where('credential_id', '=', asUuid(credentialId))
      .returning(CREDENTIAL_COLUMNS)
      .executeTakeFirst();
  }

  private revokeActiveOf(agentId: string, executor: Executor) {
    return executor
      .updateTable('agent_credentials')
      .set({ revoked_at: sql`now()` })
      .where('agent_id', '=', asUuid(agentId))
      .where('revoked_at', 'is', null);
  }

  /** One page of the agent's keys, newest first (ties by id), revoked ones included. */
  async list(agentId: string, page: PageRequest, executor: Executor = this.db): Promise<Page<AgentCredentialRow>> {
    const select = executor
      .selectFrom('agent_credentials')
      .select(CREDENTIAL_COLUMNS)
      .where('agent_id', '=', asUuid(agentId));
    return keysetPage(select, { at: 'created_at', id: 'credential_id', direction: 'desc' }, page);
  }

  async find(
    agentId: string,
    credentialId: string,
    executor: Executor = this.db,
  ): Promise<AgentCredentialRow | undefined> {
    return executor
      .selectFrom('agent_credentials')
      .select(CREDENTIAL_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .where('credential_id', '=', asUuid(credentialId))
      .executeTakeFirst();
  }

  /** The agent's active key, with what decides whether the agent may act; one round trip. */
  async activeKey(agentId: string, executor: Executor = this.db): Promise<AssertionKey | undefined> {
    return executor
      .selectFrom('agent_credentials as c')
      .innerJoin('agents as a', 'a.agent_id', 'c.agent_id')
      .select(['c.credential_id', 'c.public_key', 'c.alg', 'a.disabled as agent_disabled'])
      .where('c.agent_id', '=', asUuid(agentId))
      .where('c.revoked_at', 'is', null)
      .executeTakeFirst();
  }

  /** Whether the agent is enabled and has an active key (reads only: no assertion is claimed). */
  async hasUsableKey(agentId: string, executor: Executor = this.db): Promise<boolean> {
    const key = await this.activeKey(agentId, executor);
    return key !== undefined && !key.agent_disabled;
  }

  /**
   * Records a verified assertion's id as used, in one statement; false when it was recorded
   * before (a replay) or the key it was verified with was revoked meanwhile.
   */
  async claimJti(
    agentId: string,
    credentialId: string,
    jti: string,
    expiresAt: Date,
    executor: Executor = this.db,
  ): Promise<boolean> {
    const result = await sql<{ jti: string }>`
      INSERT INTO agent_assertion_jtis (agent_id, jti, expires_at)
      SELECT ${agentId}::uuid, ${jti}::text, ${asTimestamp(expiresAt)}
      WHERE EXISTS (SELECT 1 FROM agent_credentials WHERE credential_id = ${credentialId}::uuid AND revoked_at IS NULL)
      ON CONFLICT (agent_id, jti) DO NOTHING
      RETURNING jti`.execute(executor);
    return result.rows.length > 0;
  }

  /** Forgets assertion ids past their expiry (an expired assertion is refused anyway). */
  async purgeExpiredJtis(executor: Executor = this.db): Promise<number> {
    const result = await executor
      .deleteFrom('agent_assertion_jtis')
      .where('expires_at', '<', sql<Date>`now()`)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
