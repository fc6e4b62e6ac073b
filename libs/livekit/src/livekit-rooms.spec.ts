import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { grantsFor, parseIdentity, parseRoomName, participantIdentity, roomName } from './livekit-rooms';
import { TokenRateLimit } from './token-rate-limit';

describe('room and identity names', () => {
  it('names one room per space, the same every time, and maps it back', () => {
    const agentId = randomUUID();
    const spaceId = randomUUID();
    expect(roomName(agentId, spaceId)).toBe(`marvain-${agentId}-${spaceId}`);
    expect(roomName(agentId, spaceId)).toBe(roomName(agentId, spaceId));
    expect(parseRoomName(roomName(agentId, spaceId))).toEqual({ agent_id: agentId, space_id: spaceId });
  });

  it.each(['', 'lobby', `marvain-${randomUUID()}`, `other-${randomUUID()}-${randomUUID()}`, `marvain-x-y`])(
    'maps no space to the room %j',
    (name) => {
      expect(parseRoomName(name)).toBeNull();
    },
  );

  it('maps identities back to principals, and nothing else', () => {
    const id = randomUUID();
    for (const type of ['user', 'device', 'agent'] as const) {
      expect(parseIdentity(participantIdentity(type, id))).toEqual({ type, id });
    }
    expect(parseIdentity(`robot:${id}`)).toBeNull();
    expect(parseIdentity('user:not-a-uuid')).toBeNull();
    expect(parseIdentity(`user:${id}:x`)).toBeNull();
  });
});

describe('grants', () => {
  const room = 'marvain-a-b';

  it('lets users publish and subscribe in the one room', () => {
    expect(grantsFor('user', room, null)).toEqual({
      room,
      room_join: true,
      can_subscribe: true,
      can_publish: true,
      can_publish_data: true,
    });
  });

  it.each([{ microphone: true }, { camera: true }, { audio_in: true }, { video_in: true }])(
    'lets a device with %j publish',
    (capabilities) => {
      expect(grantsFor('device', room, capabilities).can_publish).toBe(true);
    },
  );

  it.each([{}, { audio: true, display: true }, { microphone: 'yes' }, { microphone: false }])(
    'lets a device with %j only subscribe',
    (capabilities) => {
      const grants = grantsFor('device', room, capabilities);
      expect(grants).toMatchObject({ can_subscribe: true, can_publish: false, can_publish_data: false });
    },
  );

  it('lets an agent only subscribe', () => {
    expect(grantsFor('agent', room, null)).toMatchObject({ can_publish: false, can_publish_data: false });
  });
});

describe('TokenRateLimit', () => {
  const refusal = (fn: () => void): DomainError => {
    try {
      fn();
    } catch (error) {
      return error as DomainError;
    }
    throw new Error('expected a refusal');
  };

  it('refuses the 31st request in a window with a retry-after, per key, and starts over after the window', () => {
    const limit = new TokenRateLimit();
    for (let i = 0; i < 30; i += 1) {
      limit.take('a', 1000 + i);
    }
    const refused = refusal(() => limit.take('a', 11_000));
    expect(refused.code).toBe(ErrorCode.RateLimited);
    expect(refused.details).toMatchObject({ retry_after_seconds: 50 });
    limit.take('b', 11_000);
    limit.take('a', 61_000);
  });

  it('tracks at most maxKeys keys', () => {
    const limit = new TokenRateLimit(1, 60_000, 100);
    for (let i = 0; i < 1000; i += 1) {
      limit.take(`k${i}`, i);
    }
    expect(limit.size).toBe(100);
    // The newest keys are still limited.
    expect(refusal(() => limit.take('k999', 1000)).code).toBe(ErrorCode.RateLimited);
  });
});
