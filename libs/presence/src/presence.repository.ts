import { Injectable } from '@nestjs/common';
import { sql, type Kysely } from 'kysely';
import { asUuid, InjectKysely, type Database, type Executor } from '@marvain/db';

export type PresenceSubjectType = 'user' | 'device' | 'agent';

const PRESENCE_COLUMNS = ['agent_id', 'space_id', 'subject_type', 'subject_id', 'status', 'last_seen'] as const;

export interface PresenceRow {
  agent_id: string;
  space_id: string | null;
  subject_type: string;
  subject_id: string;
  status: string;
  last_seen: Date;
}

export interface PresenceSubject {
  subject_type: PresenceSubjectType;
  subject_id: string;
}

/** One presence row's key: an agent, a space or none (null), a subject. */
export interface PresenceKey extends PresenceSubject {
  agent_id: string;
  space_id: string | null;
}

export interface PresenceStatusWrite extends PresenceKey {
  status: 'online' | 'away' | 'offline';
}

/** `now() - seconds`, in the database's clock. */
const secondsAgo = (seconds: number) => sql<Date>`now() - (${seconds}::integer * interval '1 second')`;

@Injectable()
export class PresenceRepository {
  constructor(@InjectKysely() private readonly db: Kysely<Database>) {}

  /**
   * Creates each row with its status, or changes an existing row's status; returns only the rows
   * that were created or changed (the transitions). With `onlyFromOffline`, an existing row
   * changes only when it is offline (a sign of life does not override a stated `away`).
   */
  async upsertStatus(
    rows: readonly PresenceStatusWrite[],
    executor: Executor = this.db,
    options: { onlyFromOffline?: boolean } = {},
  ): Promise<PresenceRow[]> {
    if (rows.length === 0) {
      return [];
    }
    return executor
      .insertInto('presence')
      .values(
        rows.map((row) => ({
          agent_id: asUuid(row.agent_id),
          space_id: row.space_id === null ? null : asUuid(row.space_id),
          subject_type: row.subject_type,
          subject_id: asUuid(row.subject_id),
          status: row.status,
          last_seen: sql<Date>`now()`,
        })),
      )
      .onConflict((oc) => {
        const update = oc
          .columns(['agent_id', 'space_id', 'subject_type', 'subject_id'])
          .doUpdateSet({ status: (eb) => eb.ref('excluded.status'), last_seen: sql<Date>`now()` })
          .whereRef('presence.status', '<>', 'excluded.status');
        return options.onlyFromOffline ? update.where('presence.status', '=', 'offline') : update;
      })
      .returning(PRESENCE_COLUMNS)
      .execute();
  }

  /** Stamps last_seen of the subject's rows for these agents in the space (null: in none); returns them. */
  async touch(
    subject: PresenceSubject,
    agentIds: readonly string[],
    spaceId: string | null,
    executor: Executor = this.db,
  ): Promise<PresenceRow[]> {
    if (agentIds.length === 0) {
      return [];
    }
    return executor
      .updateTable('presence')
      .set({ last_seen: sql<Date>`now()` })
      .where('subject_type', '=', subject.subject_type)
      .where('subject_id', '=', asUuid(subject.subject_id))
      .where(
        'agent_id',
        'in',
        agentIds.map((id) => asUuid(id)),
      )
      .where((eb) => (spaceId === null ? eb('space_id', 'is', null) : eb('space_id', '=', asUuid(spaceId))))
      .returning(PRESENCE_COLUMNS)
      .execute();
  }

  /** Stamps last_seen of the subject's rows that are not offline and were last seen over `seconds` ago. */
  async touchStale(subject: PresenceSubject, seconds: number, executor: Executor = this.db): Promise<number> {
    const result = await executor
      .updateTable('presence')
      .set({ last_seen: sql<Date>`now()` })
      .where('subject_type', '=', subject.subject_type)
      .where('subject_id', '=', asUuid(subject.subject_id))
      .where('status', '<>', 'offline')
      .where('last_seen', '<', secondsAgo(seconds))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * What a sign of life would change, read without writing: how many of `agentIds` have a
   * connection row (space null) that is not offline and was seen within `seconds`, and how many
   * of the subject's live rows were last seen longer ago.
   */
  async freshness(
    subject: PresenceSubject,
    agentIds: readonly string[],
    seconds: number,
    executor: Executor = this.db,
  ): Promise<{ fresh_connections: number; stale: number }> {
    if (agentIds.length === 0) {
      return { fresh_connections: 0, stale: 0 };
    }
    const row = await executor
      .selectFrom('presence')
      .select([
        sql<string>`count(*) FILTER (WHERE space_id IS NULL AND status <> 'offline' AND last_seen >= ${secondsAgo(seconds)})`.as(
          'fresh_connections',
        ),
        sql<string>`count(*) FILTER (WHERE status <> 'offline' AND last_seen < ${secondsAgo(seconds)})`.as('stale'),
      ])
      .where('subject_type', '=', subject.subject_type)
      .where('subject_id', '=', asUuid(subject.subject_id))
      .where(
        'agent_id',
        'in',
        agentIds.map((id) => asUuid(id)),
      )
      .executeTakeFirstOrThrow();
    return { fresh_connections: Number(row.fresh_connections), stale: Number(row.stale) };
  }

  /** The one row of `key` goes offline (last seen now) unless it is offline or missing; returns it when it changed. */
  async setOffline(key: PresenceKey, executor: Executor = this.db): Promise<PresenceRow[]> {
    return executor
      .updateTable('presence')
      .set({ status: 'offline', last_seen: sql<Date>`now()` })
      .where('agent_id', '=', asUuid(key.agent_id))
      .where((eb) => (key.space_id === null ? eb('space_id', 'is', null) : eb('space_id', '=', asUuid(key.space_id))))
      .where('subject_type', '=', key.subject_type)
      .where('subject_id', '=', asUuid(key.subject_id))
      .where('status', '<>', 'offline')
      .returning(PRESENCE_COLUMNS)
      .execute();
  }

  /**
   * Every row of the subject that is not offline and that no LiveKit room holds goes offline
   * (last seen now); returns those rows.
   */
  async setSubjectOffline(subject: PresenceSubject, executor: Executor = this.db): Promise<PresenceRow[]> {
    return executor
      .updateTable('presence')
      .set({ status: 'offline', last_seen: sql<Date>`now()` })
      .where('subject_type', '=', subject.subject_type)
      .where('subject_id', '=', asUuid(subject.subject_id))
      .where('status', '<>', 'offline')
      .where('in_room', '=', false)
      .returning(PRESENCE_COLUMNS)
      .execute();
  }

  /** Marks the one row of `key` held (true) or released (false) by a LiveKit room; false when there is no such row. */
  async setInRoom(key: PresenceKey, inRoom: boolean, executor: Executor = this.db): Promise<boolean> {
    const result = await executor
      .updateTable('presence')
      .set({ in_room: inRoom })
      .where('agent_id', '=', asUuid(key.agent_id))
      .where((eb) => (key.space_id === null ? eb('space_id', 'is', null) : eb('space_id', '=', asUuid(key.space_id))))
      .where('subject_type', '=', key.subject_type)
      .where('subject_id', '=', asUuid(key.subject_id))
      .where('in_room', '<>', inRoom)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Every row a room holds in the agent's space is released and goes offline (last seen now);
   * returns the rows whose status changed.
   */
  async releaseRoom(agentId: string, spaceId: string, executor: Executor = this.db): Promise<PresenceRow[]> {
    const changed = await executor
      .updateTable('presence')
      .set({ in_room: false, status: 'offline', last_seen: sql<Date>`now()` })
      .where('agent_id', '=', asUuid(agentId))
      .where('space_id', '=', asUuid(spaceId))
      .where('in_room', '=', true)
      .where('status', '<>', 'offline')
      .returning(PRESENCE_COLUMNS)
      .execute();
    await executor
      .updateTable('presence')
      .set({ in_room: false })
      .where('agent_id', '=', asUuid(agentId))
      .where('space_id', '=', asUuid(spaceId))
      .where('in_room', '=', true)
      .execute();
    return changed;
  }

  /**
   * Up to `limit` rows that are not offline, that no LiveKit room holds, and that were last seen
   * over `seconds` ago go offline
   * (last_seen kept: it is when the subject was last seen); returns them. Rows another sweeper
   * holds are skipped, so overlapping sweeps never write a transition twice.
   */
  async markStaleOffline(seconds: number, limit: number, executor: Executor = this.db): Promise<PresenceRow[]> {
    const result = await sql<PresenceRow>`
      UPDATE presence AS p SET status = 'offline'
      FROM (
        SELECT agent_id, space_id, subject_type, subject_id FROM presence
        WHERE status <> 'offline' AND NOT in_room AND last_seen < ${secondsAgo(seconds)}
        ORDER BY last_seen
        LIMIT ${limit}::integer
        FOR UPDATE SKIP LOCKED
      ) AS stale
      WHERE p.agent_id = stale.agent_id
        AND p.space_id IS NOT DISTINCT FROM stale.space_id
        AND p.subject_type = stale.subject_type
        AND p.subject_id = stale.subject_id
        AND p.status <> 'offline'
        AND NOT p.in_room
      RETURNING p.agent_id, p.space_id, p.subject_type, p.subject_id, p.status, p.last_seen`.execute(executor);
    return result.rows.map((row) => ({ ...row, last_seen: new Date(row.last_seen) }));
  }

  /** The agent's rows (one space's when spaceId is set): live ones first, then by last seen, newest first. */
  async list(
    agentId: string,
    spaceId: string | undefined,
    limit: number,
    executor: Executor = this.db,
  ): Promise<PresenceRow[]> {
    let query = executor.selectFrom('presence').select(PRESENCE_COLUMNS).where('agent_id', '=', asUuid(agentId));
    if (spaceId !== undefined) {
      query = query.where('space_id', '=', asUuid(spaceId));
    }
    return query
      .orderBy(sql`CASE WHEN status = 'offline' THEN 1 ELSE 0 END`)
      .orderBy('last_seen', 'desc')
      .orderBy('subject_id')
      .limit(limit)
      .execute();
  }

  /** Stamps an active device's last_hello_at (a WebSocket hello); false when it is revoked or missing. */
  async stampDeviceHello(deviceId: string, executor: Executor = this.db): Promise<boolean> {
    const result = await executor
      .updateTable('devices')
      .set({ last_hello_at: sql<Date>`now()` })
      .where('device_id', '=', asUuid(deviceId))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
