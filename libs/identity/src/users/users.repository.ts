import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { asUuid, InjectKysely, type Database, type Executor, type UserRow } from '@marvain/db';

const USER_COLUMNS = [
  'user_id',
  'subject',
  'email',
  'display_name',
  'last_seen',
  'created_at',
  'token_version',
] as const;

/** A user with their active memberships on enabled agents: what the resolver turns into a principal. */
export interface UserWithMemberships {
  user_id: string;
  last_seen: Date | null;
  token_version: number;
  memberships: Array<{ agent_id: string; role: string }>;
}

/** Users: rows of the `users` table, one per verified identity (local or Cognito subject). */
@Injectable()
export class UsersRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  async find(userId: string, executor: Executor = this.db): Promise<UserRow | undefined> {
    return executor.selectFrom('users').select(USER_COLUMNS).where('user_id', '=', asUuid(userId)).executeTakeFirst();
  }

  /** The oldest local user with this email (local subjects only: Cognito users are not found by email). */
  async findLocalByEmail(email: string, executor: Executor = this.db): Promise<UserRow | undefined> {
    return executor
      .selectFrom('users')
      .select(USER_COLUMNS)
      .where('email', '=', email)
      .where('subject', 'like', 'local:%')
      .orderBy('created_at')
      .executeTakeFirst();
  }

  /** A user and their active memberships on enabled agents, in one round trip. */
  async findWithMemberships(subject: string, executor: Executor = this.db): Promise<UserWithMemberships | undefined> {
    const rows = await executor
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

  /** Creates the user for a subject, or returns the existing one (first sight links the identity). */
  async upsert(
    user: { user_id: string; subject: string; email: string | null; display_name: string | null },
    executor: Executor = this.db,
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

  /** Raises the user's token version, revoking every token issued before; the new version. */
  async raiseTokenVersion(userId: string, executor: Executor = this.db): Promise<number | undefined> {
    const row = await executor
      .updateTable('users')
      .set({ token_version: sql<number>`token_version + 1` })
      .where('user_id', '=', asUuid(userId))
      .returning('token_version')
      .executeTakeFirst();
    return row?.token_version;
  }

  /** Records that the user was seen, unless that was recorded within the last `withinSeconds`. */
  async touchLastSeen(userId: string, withinSeconds: number, executor: Executor = this.db): Promise<void> {
    await executor
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
}
