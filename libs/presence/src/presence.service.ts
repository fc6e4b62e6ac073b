import { Injectable } from '@nestjs/common';
import {
  DomainError,
  HEARTBEAT_INTERVAL_SECONDS,
  PRESENCE_MISSED_HEARTBEATS,
  type PresenceStatus,
  type PresenceView,
  type Principal,
} from '@marvain/contracts';
import { TransactionRunner, type Tx } from '@marvain/db';
import { assertAgentScope } from '@marvain/platform';
import { SpacesService } from '@marvain/spaces';
import { AgentStream } from '@marvain/streams';
import {
  PresenceRepository,
  type PresenceKey,
  type PresenceRow,
  type PresenceSubject,
  type PresenceSubjectType,
} from './presence.repository';

/** A subject not seen for this long is offline (the sweep makes it so). */
export const PRESENCE_OFFLINE_AFTER_SECONDS = HEARTBEAT_INTERVAL_SECONDS * PRESENCE_MISSED_HEARTBEATS;

/** A sign of life rewrites last_seen only when it is older than this: pings arrive often, and precision here buys nothing. */
export const PRESENCE_REFRESH_SECONDS = HEARTBEAT_INTERVAL_SECONDS / 2;

/** The most rows one presence list answers (an agent has few subjects; this keeps a response bounded). */
export const PRESENCE_LIST_LIMIT = 1000;

/** How many stale rows one sweep transaction turns offline. */
export const PRESENCE_SWEEP_BATCH = 500;

/** A status stated by its subject: a heartbeat's `online` (the default) or `away`. */
export type StatedPresence = Exclude<PresenceStatus, 'offline'>;

/** One subject's presence with one agent, in a space or in none (null). */
export interface PresenceRefresh {
  agent_id: string;
  space_id: string | null;
  subject_type: PresenceSubjectType;
  subject_id: string;
  status: StatedPresence;
}

export function toPresenceView(row: PresenceRow): PresenceView {
  return {
    agent_id: row.agent_id,
    space_id: row.space_id,
    subject_type: row.subject_type as PresenceView['subject_type'],
    subject_id: row.subject_id,
    status: row.status as PresenceStatus,
    last_seen: new Date(row.last_seen).toISOString(),
  };
}

const subjectOf = (principal: Principal): PresenceSubject => ({
  subject_type: principal.type,
  subject_id: principal.id,
});

/**
 * Presence: which users, devices and agents are where (spec 000 §9.1). One row per (agent, space
 * or none, subject). A subject is online while connected or heartbeating and offline once
 * PRESENCE_OFFLINE_AFTER_SECONDS pass without a sign of it; a row a LiveKit room holds stays
 * until the participant leaves the room. Transitions (a new row, a status
 * change), never mere refreshes, are written to the agent's stream as `presence.updated`, in the
 * transaction that makes them. Times are the database's.
 */
@Injectable()
export class PresenceService {
  constructor(
    private readonly repository: PresenceRepository,
    private readonly transactions: TransactionRunner,
    private readonly stream: AgentStream,
    private readonly spaces: SpacesService,
  ) {}

  /** A WebSocket hello: the principal is online for each of its agents (space none); a device's last_hello_at is stamped. */
  async connected(principal: Principal): Promise<void> {
    const subject = subjectOf(principal);
    const agentIds = principal.agents.map((a) => a.agent_id);
    await this.transactions.run(async (tx) => {
      if (principal.type === 'device') {
        await this.repository.stampDeviceHello(principal.id, tx.db);
      }
      const changed = await this.repository.upsertStatus(
        agentIds.map((agent_id) => ({ agent_id, space_id: null, ...subject, status: 'online' as const })),
        tx.db,
      );
      await this.repository.touch(subject, agentIds, null, tx.db);
      await this.streamTransitions(tx, changed);
    });
  }

  /**
   * The principal's last live connection closed: every row of it, with every agent, goes
   * offline, except the rows a LiveKit room holds (it is still in that space's room).
   */
  async disconnected(principal: Principal): Promise<void> {
    await this.transactions.run(async (tx) => {
      await this.streamTransitions(tx, await this.repository.setSubjectOffline(subjectOf(principal), tx.db));
    });
  }

  /**
   * A sign of life (a WebSocket ping): the principal's connection rows come back online if they
   * were offline or missing, and its live rows' last_seen is refreshed when older than
   * PRESENCE_REFRESH_SECONDS. A stated `away` stays away, and an offline space row stays offline
   * (only a heartbeat naming that space brings it back). Nothing is written when nothing is due.
   */
  async seen(principal: Principal): Promise<void> {
    const subject = subjectOf(principal);
    const agentIds = principal.agents.map((a) => a.agent_id);
    if (agentIds.length === 0) {
      return;
    }
    const state = await this.repository.freshness(subject, agentIds, PRESENCE_REFRESH_SECONDS);
    if (state.fresh_connections === agentIds.length && state.stale === 0) {
      return;
    }
    await this.transactions.run(async (tx) => {
      const changed = await this.repository.upsertStatus(
        agentIds.map((agent_id) => ({ agent_id, space_id: null, ...subject, status: 'online' as const })),
        tx.db,
        { onlyFromOffline: true },
      );
      await this.repository.touchStale(subject, PRESENCE_REFRESH_SECONDS, tx.db);
      await this.streamTransitions(tx, changed);
    });
  }

  /**
   * A subject states its presence (a device's heartbeat, REST or WebSocket), inside the caller's
   * transaction: the row is created or its status changed (a streamed transition) and its
   * last_seen stamped either way.
   */
  async refresh(tx: Tx, input: PresenceRefresh): Promise<PresenceView> {
    const subject: PresenceSubject = { subject_type: input.subject_type, subject_id: input.subject_id };
    const changed = await this.repository.upsertStatus([input], tx.db);
    const [row] = await this.repository.touch(subject, [input.agent_id], input.space_id, tx.db);
    await this.streamTransitions(tx, changed);
    if (!row) {
      throw new Error(`presence of ${input.subject_type} ${input.subject_id} was not written`);
    }
    return toPresenceView(row);
  }

  /**
   * A subject joined a space's room (a LiveKit participant joined), inside the caller's
   * transaction: it is online there, as with `refresh`, and the room holds the row, so neither
   * the sweep nor a WebSocket disconnect takes it offline (a participant sends no heartbeat)
   * until it leaves the room.
   */
  async enterRoom(tx: Tx, key: PresenceKey & { space_id: string }): Promise<PresenceView> {
    const view = await this.refresh(tx, { ...key, status: 'online' });
    await this.repository.setInRoom(key, true, tx.db);
    return view;
  }

  /**
   * A subject left a space (a LiveKit participant left its room), inside the caller's
   * transaction: the room releases the row and it goes offline, a streamed transition; nothing
   * changes (and nothing is streamed) when it is offline already or was never there, so a
   * repeated leave is harmless. Leaving the room is leaving the space: a subject that also
   * heartbeats this space comes back online there with its next heartbeat, and its WebSocket
   * connection row (space none) is not touched.
   */
  async leave(tx: Tx, key: PresenceKey): Promise<PresenceView | null> {
    await this.repository.setInRoom(key, false, tx.db);
    const changed = await this.repository.setOffline(key, tx.db);
    await this.streamTransitions(tx, changed);
    const [row] = changed;
    return row ? toPresenceView(row) : null;
  }

  /**
   * A space's room finished (LiveKit closed it: everyone left), inside the caller's transaction:
   * every row the room still holds is released and goes offline, so a lost `participant_left`
   * does not keep a participant online for ever. Returns how many rows went offline.
   */
  async roomFinished(tx: Tx, agentId: string, spaceId: string): Promise<number> {
    const changed = await this.repository.releaseRoom(agentId, spaceId, tx.db);
    await this.streamTransitions(tx, changed);
    return changed.length;
  }

  /**
   * The agent's presence (one space's when spaceId is set), for a principal with spaces:read on
   * it. Another agent's id, or a space of another agent, answers like a missing one.
   */
  async list(principal: Principal, agentId: string, spaceId?: string): Promise<PresenceView[]> {
    assertAgentScope(principal, agentId, 'spaces:read');
    if (spaceId !== undefined) {
      const space = await this.spaces.getForPrincipal(principal, spaceId, 'spaces:read');
      if (space.agent_id !== agentId) {
        throw DomainError.notFound('space', spaceId);
      }
    }
    return (await this.repository.list(agentId, spaceId, PRESENCE_LIST_LIMIT)).map(toPresenceView);
  }

  /** One space's presence, for a principal with spaces:read on the space's agent. */
  async listForSpace(principal: Principal, spaceId: string): Promise<PresenceView[]> {
    const space = await this.spaces.getForPrincipal(principal, spaceId, 'spaces:read');
    return (await this.repository.list(space.agent_id, spaceId, PRESENCE_LIST_LIMIT)).map(toPresenceView);
  }

  /**
   * Marks offline every online or away row not seen within PRESENCE_OFFLINE_AFTER_SECONDS and not
   * held by a LiveKit room (a participant is present while it is in the room), each
   * transition streamed in its batch's transaction; returns how many.
   */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const swept = await this.transactions.run(async (tx) => {
        const rows = await this.repository.markStaleOffline(
          PRESENCE_OFFLINE_AFTER_SECONDS,
          PRESENCE_SWEEP_BATCH,
          tx.db,
        );
        await this.streamTransitions(tx, rows);
        return rows.length;
      });
      total += swept;
      if (swept < PRESENCE_SWEEP_BATCH) {
        return total;
      }
    }
  }

  /**
   * One `presence.updated` entry per changed row. Agents in id order: each append locks its
   * agent's stream head until commit, and one order keeps two such transactions from deadlocking.
   */
  private async streamTransitions(tx: Tx, rows: readonly PresenceRow[]): Promise<void> {
    const ordered = [...rows].sort((a, b) => (a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0));
    for (const row of ordered) {
      const view = toPresenceView(row);
      await this.stream.append(tx, {
        agent_id: row.agent_id,
        topic: 'presence.updated',
        space_id: row.space_id,
        data: { ...view },
      });
    }
  }
}
