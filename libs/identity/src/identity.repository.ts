import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { asUuid, InjectKysely, type AgentRow, type Database, type Executor, type UserRow } from '@marvain/db';

const AGENT_COLUMNS = ['agent_id', 'name', 'kind', 'disabled', 'created_at', 'updated_at'] as const;
const USER_COLUMNS = [
  'user_id',
  'subject',
  'email',
  'display_name',
  'last_seen',
  'created_at',
  'token_version',
] as const;

export interface DeviceCredential {
  device_id: string;
  agent_id: string;
  token_hash: string;
  scopes: string[];
  revoked: boolean;
  agent_disabled: boolean;
}

export interface UserWithMemberships {
  user_id: string;
  last_seen: Date | null;
  token_version: number;
  memberships: Array<{ agent_id: string; role: string }>;
}

@Injectable()
export class IdentityRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /** The database itself, for single statements outside a transaction. */
  executor(): Executor {
    return this.db;
  }

  async findAgent(agentId: string, executor: Executor = this.db): Promise<AgentRow | undefined> {
    return executor
      .selectFrom('agents')
      .select(AGENT_COLUMNS)
      .where('agent_id', '=', asUuid(agentId))
      .executeTakeFirst();
  }

  async countAgents(): Promise<number> {
    const row = await this.db
      .selectFrom('agents')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Creates the user for a subject, or returns the existing one (first sight links the identity). */
  async upsertUser(
    executor: Executor,
    user: { user_id: string; subject: string; email: string | null; display_name: string | null },
  ): Promise<UserRow> {
    await executor
      .insertInto('users')
      .values({
        user_id: asUuid(user.user_id),
        subject: user.subject,
        email: user.email,
        display_name: user.display_name,
      })
      .onConflict((oc) => oc.column('subject').doNothing())
      .execute();
    return executor
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where('subject', '=', user.subject)
      .executeTakeFirstOrThrow();
  }

  async findUser(userId: string, executor: Executor = this.db): Promise<UserRow | undefined> {
    return executor.selectFrom('users').select(USER_COLUMNS).where('user_id', '=', asUuid(userId)).executeTakeFirst();
  }

  /** A user and their active memberships on enabled agents, in one round trip. */
  async findUserWithMemberships(subject: string): Promise<UserWithMemberships | undefined> {
    const rows = await this.db
      .selectFrom('users as u')
      .leftJoin('agent_memberships as m', (join) =>
        join.onRef('m.user_id', '=', 'u.user_id').on('m.revoked_at', 'is', null),
      )
      .leftJoin('agents as a', (join) => join.onRef('a.agent_id', '=', 'm.agent_id').on('a.disabled', '=', false))
      .select(['u.user_id', 'u.last_seen', 'u.token_version', 'a.agent_id', 'm.role'])
      .where('u.subject', '=', subject)
      .execute();
    const first = rows[0];
    if (!first) {
      return undefined;
    }
    return {
      user_id: first.user_id,
      last_seen: first.last_seen,
      token_version: first.token_version,
      memberships: rows
        .filter((r) => r.agent_id !== null && r.role !== null)
        .map((r) => ({ agent_id: r.agent_id as string, role: r.role as string })),
    };
  }

  /** Raises the user's token version, revoking every token issued before; the new version. */
  async raiseTokenVersion(executor: Executor, userId: string): Promise<number | undefined> {
    const row = await executor
      .updateTable('users')
      .set({ token_version: sql<number>`token_version + 1` })
      .where('user_id', '=', asUuid(userId))
      .returning('token_version')
      .executeTakeFirst();
    return row?.token_version;
  }

  /** Records that the user was seen, unless that was recorded within the last `withinSeconds`. */
  async touchLastSeen(userId: string, withinSeconds: number): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ last_seen: sql`now()` })
      .where('user_id', '=', asUuid(userId))
      .where((eb) =>
        eb.or([
          eb('last_seen', 'is', null),
          eb('last_seen', '<', sql<Date>`now() - make_interval(secs => ${withinSeconds}::int)`),
        ]),
      )
      .execute();
  }

  /** The device a token hash belongs to, with what decides whether it may act; one round trip. */
  async findDeviceCredential(tokenHash: string): Promise<DeviceCredential | undefined> {
    const row = await this.db
      .selectFrom('devices as d')
      .innerJoin('agents as a', 'a.agent_id', 'd.agent_id')
      .select([
        'd.device_id',
        'd.agent_id',
        'd.token_hash',
        'd.scopes',
        sql<boolean>`d.revoked_at IS NOT NULL`.as('revoked'),
        'a.disabled as agent_disabled',
      ])
      .where('d.token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? { ...row, scopes: row.scopes } : undefined;
  }

  /** The user's active role on an agent, if any. */
  async activeRole(userId: string, agentId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('agent_memberships as m')
      .innerJoin('agents as a', 'a.agent_id', 'm.agent_id')
      .select('m.role')
      .where('m.user_id', '=', asUuid(userId))
      .where('m.agent_id', '=', asUuid(agentId))
      .where('m.revoked_at', 'is', null)
      .where('a.disabled', '=', false)
      .executeTakeFirst();
    return row?.role;
  }

  async findLocalUserByEmail(email: string, executor: Executor = this.db): Promise<UserRow | undefined> {
    return executor
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where('email', '=', email)
      .where('subject', 'like', 'local:%')
      .orderBy('created_at')
      .executeTakeFirst();
  }
}
