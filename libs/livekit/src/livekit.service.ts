import { Inject, Injectable } from '@nestjs/common';
import { AccessToken, WebhookReceiver, type WebhookEvent } from 'livekit-server-sdk';
import { AuditService } from '@marvain/audit';
import { DomainError, ErrorCode, type Principal } from '@marvain/contracts';
import { TransactionRunner } from '@marvain/db';
import { CLOCK, HubConfig, LoggerFactory, type Clock, type HubLogger, type LivekitSettings } from '@marvain/platform';
import { PresenceService } from '@marvain/presence';
import { SpacesService } from '@marvain/spaces';
import type { LivekitTokenView, LivekitWebhookAck } from './livekit.dto';
import { LivekitRepository } from './livekit.repository';
import { grantsFor, parseIdentity, parseRoomName, participantIdentity, roomName } from './livekit-rooms';
import { TokenRateLimit } from './token-rate-limit';

/** How far the clocks of LiveKit and the hub may disagree about a webhook signature's times, in seconds. */
export const WEBHOOK_CLOCK_TOLERANCE_SECONDS = 60;

/** The events that move presence; every other webhook event is acknowledged and ignored. */
const JOINED = 'participant_joined';
/** The room closed (everyone left): whatever it still holds is released. */
const FINISHED = 'room_finished';
/** A participant that never finished connecting is gone as surely as one that left. */
const LEFT = new Set(['participant_left', 'participant_connection_aborted']);

const notConfigured = (): DomainError =>
  new DomainError(
    ErrorCode.LivekitNotConfigured,
    'LiveKit is not configured on this hub (set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET)',
  );

/**
 * LiveKit rooms for spaces (spec 000 §9.1): join tokens for a space's room, and the webhook that
 * turns participants joining and leaving into presence in that space.
 */
@Injectable()
export class LivekitService {
  private readonly logger: HubLogger;
  private readonly rateLimit = new TokenRateLimit();
  private readonly receiver: WebhookReceiver | null;

  constructor(
    private readonly config: HubConfig,
    private readonly spaces: SpacesService,
    private readonly presence: PresenceService,
    private readonly repository: LivekitRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('LiveKit');
    const livekit = config.livekit;
    this.receiver = livekit ? new WebhookReceiver(livekit.apiKey, livekit.apiSecret) : null;
  }

  get configured(): boolean {
    return this.config.livekit !== undefined;
  }

  /**
   * A token to join the space's room, for a principal with livekit:join on the space's agent.
   * Issuance is rate-limited per principal and audited (grants, room, identity, expiry; never
   * the token) before the token is handed out.
   */
  async issueToken(principal: Principal, spaceId: string): Promise<LivekitTokenView> {
    const livekit = this.settings();
    const space = await this.spaces.getForPrincipal(principal, spaceId, 'livekit:join');
    this.rateLimit.take(participantIdentity(principal.type, principal.id), this.clock.now().getTime());

    const room = roomName(space.agent_id, space.space_id);
    const identity = participantIdentity(principal.type, principal.id);
    const profile = await this.repository.profile(principal.type, principal.id);
    const grants = grantsFor(principal.type, room, profile.capabilities);
    const token = await this.mint(livekit, identity, profile.name, grants);
    const expiresAt = new Date(expiryOf(token) * 1000).toISOString();

    await this.transactions.run((tx) =>
      this.audit.append(tx, {
        agentId: space.agent_id,
        action: 'livekit.token_issued',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'space', id: space.space_id },
        details: { room, identity, grants: { ...grants }, expires_at: expiresAt },
      }),
    );
    return { url: livekit.url, room, identity, token, expires_at: expiresAt, grants };
  }

  /**
   * A webhook from LiveKit: verified over the exact body with the API secret (anything
   * unverified is refused `webhook_signature_invalid` and changes nothing), then a participant
   * joining a space's room puts it online there, held by the room (no sweep, no WebSocket
   * disconnect takes it offline), and leaving the room (or the room finishing) releases it and
   * puts it offline. Deliveries repeat: a second join or leave finds the state it would make and
   * changes nothing.
   */
  async receiveWebhook(body: string | undefined, authorization: string | undefined): Promise<LivekitWebhookAck> {
    if (!this.receiver) {
      throw notConfigured();
    }
    let event: WebhookEvent;
    try {
      event = await this.receiver.receive(body ?? '', authorization, false, WEBHOOK_CLOCK_TOLERANCE_SECONDS);
    } catch (error) {
      this.logger.warn(`webhook refused: ${error instanceof Error ? error.message : String(error)}`);
      throw new DomainError(
        ErrorCode.WebhookSignatureInvalid,
        'the webhook did not verify: send it as LiveKit signs it (Authorization header over the exact application/webhook+json body)',
      );
    }
    const ack = (applied: boolean): LivekitWebhookAck => ({ received: true, event: event.event, applied });
    if (event.event !== JOINED && event.event !== FINISHED && !LEFT.has(event.event)) {
      return ack(false);
    }
    const room = parseRoomName(event.room?.name ?? '');
    const who = event.event === FINISHED ? null : parseIdentity(event.participant?.identity ?? '');
    if (!room || (event.event !== FINISHED && !who)) {
      this.logger.log({ msg: 'webhook ignored: not a room or participant of the hub', event: event.event });
      return ack(false);
    }
    const applied = await this.transactions.run(async (tx) => {
      if (!(await this.repository.spaceOfAgent(room.space_id, room.agent_id, tx.db))) {
        return false;
      }
      if (!who) {
        await this.presence.roomFinished(tx, room.agent_id, room.space_id);
        return true;
      }
      const key = { agent_id: room.agent_id, space_id: room.space_id, subject_type: who.type, subject_id: who.id };
      if (LEFT.has(event.event)) {
        // Leaving only releases a row the room holds: a participant removed from the agent while
        // in the room still leaves it.
        await this.presence.leave(tx, key);
        return true;
      }
      if (!(await this.repository.belongsToAgent(who.type, who.id, room.agent_id, tx.db))) {
        return false;
      }
      await this.presence.enterRoom(tx, key);
      return true;
    });
    if (!applied) {
      this.logger.log({
        msg: 'webhook ignored: the room or the participant is not (or no longer) the agent’s',
        event: event.event,
        agent_id: room.agent_id,
        space_id: room.space_id,
      });
    }
    return ack(applied);
  }

  private settings(): LivekitSettings {
    const livekit = this.config.livekit;
    if (!livekit) {
      throw notConfigured();
    }
    return livekit;
  }

  private async mint(
    livekit: LivekitSettings,
    identity: string,
    name: string | null,
    grants: ReturnType<typeof grantsFor>,
  ): Promise<string> {
    const token = new AccessToken(livekit.apiKey, livekit.apiSecret, {
      identity,
      ttl: this.config.livekitTokenTtlSeconds,
      ...(name ? { name } : {}),
    });
    token.addGrant({
      room: grants.room,
      roomJoin: true,
      canSubscribe: true,
      canPublish: grants.can_publish,
      canPublishData: grants.can_publish_data,
      roomAdmin: false,
      roomCreate: false,
      roomList: false,
    });
    return token.toJwt();
  }
}

/** The `exp` of a JWT the hub just signed (seconds since the epoch). */
function expiryOf(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
  if (typeof payload.exp !== 'number') {
    throw new Error('the minted LiveKit token has no expiry');
  }
  return payload.exp;
}
