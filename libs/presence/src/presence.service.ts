import { Injectable } from '@nestjs/common';
import type { PresenceStatus, PresenceView, Principal } from '@marvain/contracts';

/**
 * Presence: which users, devices and agents are where (spec 000 §9.1). A subject is online while
 * connected or heartbeating and offline after PRESENCE_MISSED_HEARTBEATS heartbeat intervals
 * without a sign. Transitions (not every refresh) are written to the agent's stream as
 * `presence.updated`, in the transaction that makes them.
 *
 * INTERFACE ONLY: the presence work fills these in (see the realtime issue).
 */
@Injectable()
export class PresenceService {
  /** A WebSocket hello: the principal is online for each of its agents (space none); a device's last_hello_at is stamped. */
  connected(_principal: Principal): Promise<void> {
    return Promise.reject(new Error('presence: not built yet'));
  }

  /** The principal's last live connection closed: its connection presence goes offline. */
  disconnected(_principal: Principal): Promise<void> {
    return Promise.reject(new Error('presence: not built yet'));
  }

  /** A sign of life without a status change (a WebSocket ping): refreshes last_seen, cheaply. */
  seen(_principal: Principal): Promise<void> {
    return Promise.reject(new Error('presence: not built yet'));
  }

  /** A device's heartbeat (REST and WebSocket): online or away, in a space or none. */
  heartbeat(
    _principal: Principal,
    _input: { status?: Exclude<PresenceStatus, 'offline'>; space_id?: string },
  ): Promise<{ device_id: string; last_heartbeat_at: string }> {
    return Promise.reject(new Error('presence: not built yet'));
  }

  /** The agent's presence (one space's when spaceId is set), for a principal with spaces:read on it. */
  list(_principal: Principal, _agentId: string, _spaceId?: string): Promise<PresenceView[]> {
    return Promise.reject(new Error('presence: not built yet'));
  }

  /** Marks offline every online or away row not seen within the window; returns how many. */
  sweep(): Promise<number> {
    return Promise.reject(new Error('presence: not built yet'));
  }
}
