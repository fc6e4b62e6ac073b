import type { PrincipalType } from '@marvain/contracts';

/**
 * How the hub names LiveKit rooms and participants, so a webhook maps back to a space and a
 * principal without any table: one room per space, `marvain-<agent_id>-<space_id>`, and one
 * identity per principal, `<type>:<id>` (`user:…`, `device:…`, `agent:…`).
 */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const ROOM_PATTERN = new RegExp(`^marvain-(${UUID})-(${UUID})$`);
const IDENTITY_PATTERN = new RegExp(`^(user|device|agent):(${UUID})$`);

export function roomName(agentId: string, spaceId: string): string {
  return `marvain-${agentId}-${spaceId}`;
}

/** The agent and space a room of the hub's stands for; null for any other room name. */
export function parseRoomName(name: string): { agent_id: string; space_id: string } | null {
  const match = ROOM_PATTERN.exec(name);
  return match ? { agent_id: match[1] as string, space_id: match[2] as string } : null;
}

export function participantIdentity(type: PrincipalType, id: string): string {
  return `${type}:${id}`;
}

/** The principal a participant identity names; null for an identity the hub did not mint. */
export function parseIdentity(identity: string): { type: PrincipalType; id: string } | null {
  const match = IDENTITY_PATTERN.exec(identity);
  return match ? { type: match[1] as PrincipalType, id: match[2] as string } : null;
}

/**
 * Device capabilities that let a device publish media: any of these keys set to `true`. Keys
 * that do not say the device captures sound or pictures (`audio`, `speaker`, `display`) do not.
 */
export const MEDIA_CAPABILITIES = ['microphone', 'camera', 'audio_in', 'video_in'] as const;

/** The grants of one join token, as the view and the audit entry show them. */
export interface LivekitGrants {
  room: string;
  room_join: true;
  can_subscribe: true;
  can_publish: boolean;
  can_publish_data: boolean;
}

/**
 * What a principal may do in a space's room: every caller joins that room only and subscribes;
 * users publish (audio, video, data), devices only when their capabilities say they capture
 * media, agents never (until a delegation contract says otherwise). Never room admin, create or
 * list.
 */
export function grantsFor(
  type: PrincipalType,
  room: string,
  capabilities: Readonly<Record<string, unknown>> | null,
): LivekitGrants {
  const publishes =
    type === 'user' || (type === 'device' && MEDIA_CAPABILITIES.some((key) => capabilities?.[key] === true));
  return { room, room_join: true, can_subscribe: true, can_publish: publishes, can_publish_data: publishes };
}
