import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { DEFAULT_DEVICE_SCOPES, DomainError, ErrorCode, type MembershipRole, type Principal } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import {
  auditActions,
  insertMember,
  openFeatureTestContext,
  refused,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { BootstrapService, type BootstrapResult } from '../bootstrap/bootstrap.service';
import { hashDeviceToken } from './device-tokens';
import { DevicesService } from './devices.service';
import { IdentityModule } from '../identity.module';
import { PrincipalResolver } from '../principals/principal-resolver.service';
import { USER_TOKEN_ISSUER, type UserTokenIssuer } from '../users/user-tokens';
import { AgentStream } from '@marvain/streams';
import { TestStreamPublisherModule } from '@marvain/streams/testing';

jest.setTimeout(60_000);

describe(`DevicesService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let devices: DevicesService;
  let resolver: PrincipalResolver;

  beforeAll(async () => {
    context = await openFeatureTestContext([IdentityModule, TestStreamPublisherModule]);
    devices = context.moduleRef.get(DevicesService);
    resolver = context.moduleRef.get(PrincipalResolver);
  });

  afterAll(() => context.close());

  interface Seed extends BootstrapResult {
    owner: Principal;
  }

  async function seed(name = 'Forge'): Promise<Seed> {
    const result = await context.moduleRef.get(BootstrapService).bootstrap({ agentName: name, spaceName: 'home' });
    return { ...result, owner: await resolver.resolve(result.user_token) };
  }

  async function userWithRole(agentId: string, role: MembershipRole): Promise<Principal> {
    const { subject } = await insertMember(context.db.db, agentId, role);
    return resolver.resolve(
      await context.moduleRef
        .get<UserTokenIssuer>(USER_TOKEN_ISSUER)
        .issue({ subject, email: null, displayName: null }),
    );
  }

  /** What was audited about the device, in any agent's chain. */
  const auditOf = (deviceId: string): Promise<string[]> => auditActions(context.db.db, { subjectId: deviceId });

  describe('register', () => {
    it('stores only the hash of a token that resolves to the new device with its scopes, capabilities and metadata', async () => {
      const s = await seed();
      const { device, token } = await devices.register(s.owner, s.agent_id, {
        name: 'remote',
        scopes: ['events:write', 'events:write', 'memories:*'],
        capabilities: { speaker: true },
        metadata: { is_remote: true },
      });
      expect(device).toMatchObject({
        agent_id: s.agent_id,
        scopes: ['events:write', 'memories:*'],
        capabilities: { speaker: true },
        is_remote: true,
      });
      const stored = await sql<{
        token_hash: string;
      }>`SELECT token_hash FROM devices WHERE device_id = ${device.device_id}::uuid`.execute(context.db.db);
      expect(stored.rows).toEqual([{ token_hash: hashDeviceToken(token) }]);
      expect(await resolver.resolve(token)).toEqual({
        type: 'device',
        id: device.device_id,
        agents: [{ agent_id: s.agent_id, scopes: ['events:write', 'memories:*'] }],
      });
      expect(await auditOf(device.device_id)).toEqual(['device.registered']);
      expect(device).not.toHaveProperty('token_hash');
    });

    it('defaults to the satellite scopes', async () => {
      const s = await seed();
      const { device } = await devices.register(s.owner, s.agent_id, { name: 'plain' });
      expect(device.scopes).toEqual([...DEFAULT_DEVICE_SCOPES]);
      expect(device.is_remote).toBe(false);
    });

    it('refuses scopes outside the registry, and a non-boolean is_remote, even from a caller that skips HTTP validation', async () => {
      const s = await seed();
      await refused(
        devices.register(s.owner, s.agent_id, { name: 'x', scopes: ['root:everything'] }),
        ErrorCode.ValidationFailed,
      );
      await refused(
        devices.register(s.owner, s.agent_id, { name: 'x', metadata: { is_remote: 'yes' } }),
        ErrorCode.ValidationFailed,
      );
    });

    it('lets nobody grant a scope they do not hold', async () => {
      const s = await seed();
      const admin = await userWithRole(s.agent_id, 'admin');
      const error = await refused(
        devices.register(admin, s.agent_id, { name: 'x', scopes: ['agents:manage', 'events:read'] }),
        ErrorCode.Forbidden,
      );
      expect(error.details).toEqual({ scopes: ['agents:manage'] });
      await refused(devices.register(admin, s.agent_id, { name: 'x', scopes: ['agents:*'] }), ErrorCode.Forbidden);
      await expect(devices.register(admin, s.agent_id, { name: 'x', scopes: ['members:*'] })).resolves.toMatchObject({
        device: { scopes: ['members:*'] },
      });
      await refused(
        devices.register(await userWithRole(s.agent_id, 'member'), s.agent_id, { name: 'x' }),
        ErrorCode.Forbidden,
      );
    });

    it('answers another agent exactly like a missing one', async () => {
      const s = await seed();
      const other = await seed('Other');
      const foreign = await refused(devices.register(s.owner, other.agent_id, { name: 'x' }), ErrorCode.NotFound);
      expect(foreign.message).toBe(`agent ${other.agent_id} was not found`);
      await refused(devices.list(s.owner, other.agent_id), ErrorCode.NotFound);
    });
  });

  describe('get and list', () => {
    it('list the agent’s devices (revoked ones included) and answer a foreign device like a missing one', async () => {
      const s = await seed();
      const other = await seed('Other');
      const { device } = await devices.register(s.owner, s.agent_id, { name: 'second' });
      await devices.revoke(s.owner, device.device_id);
      const listed = (await devices.list(s.owner, s.agent_id)).devices;
      expect(listed.map((d) => d.device_id).sort()).toEqual([s.device_id, device.device_id].sort());
      expect(listed.find((d) => d.device_id === device.device_id)?.revoked_at).toEqual(expect.any(String));
      for (const view of listed) {
        expect(Object.keys(view).some((k) => k.includes('token'))).toBe(false);
      }

      await expect(devices.get(s.owner, s.device_id)).resolves.toMatchObject({
        device_id: s.device_id,
        metadata: { created_by: 'bootstrap' },
      });
      const missing = randomUUID();
      const foreign = await refused(devices.get(s.owner, other.device_id), ErrorCode.NotFound);
      const absent = await refused(devices.get(s.owner, missing), ErrorCode.NotFound);
      expect(foreign.message.replace(other.device_id, '<id>')).toBe(absent.message.replace(missing, '<id>'));
    });
  });

  describe('revoke', () => {
    it('refuses the device from its next resolve on; a second revoke changes nothing and is not audited again', async () => {
      const s = await seed();
      const first = await devices.revoke(s.owner, s.device_id);
      expect(first.revoked_at).toEqual(expect.any(String));
      await refused(resolver.resolve(s.device_token), ErrorCode.Unauthenticated);
      const second = await devices.revoke(s.owner, s.device_id);
      expect(second.revoked_at).toBe(first.revoked_at);
      expect(await auditOf(s.device_id)).toEqual(['device.registered', 'device.revoked']);
    });

    it('is refused for outsiders (404) and for roles without devices:manage (403)', async () => {
      const s = await seed();
      const other = await seed('Other');
      await refused(devices.revoke(other.owner, s.device_id), ErrorCode.NotFound);
      await refused(devices.revoke(await userWithRole(s.agent_id, 'member'), s.device_id), ErrorCode.Forbidden);
      await expect(resolver.resolve(s.device_token)).resolves.toMatchObject({ id: s.device_id });
    });
  });

  describe('rotateToken', () => {
    it('replaces the token: the old one is refused at once, the new one resolves to the same device', async () => {
      const s = await seed();
      const { device, token } = await devices.rotateToken(s.owner, s.device_id);
      expect(device.device_id).toBe(s.device_id);
      await refused(resolver.resolve(s.device_token), ErrorCode.Unauthenticated);
      await expect(resolver.resolve(token)).resolves.toMatchObject({ type: 'device', id: s.device_id });
      expect(await auditOf(s.device_id)).toEqual(['device.registered', 'device.token_rotated']);
    });

    it('is refused for a revoked device (409), but a foreign revoked device is still a 404', async () => {
      const s = await seed();
      const other = await seed('Other');
      await devices.revoke(s.owner, s.device_id);
      await refused(devices.rotateToken(s.owner, s.device_id), ErrorCode.Conflict);
      await refused(devices.rotateToken(other.owner, s.device_id), ErrorCode.NotFound);
      expect(await auditOf(s.device_id)).toEqual(['device.registered', 'device.revoked']);
    });

    it('never hands a caller a token stronger than the caller', async () => {
      const s = await seed();
      const strong = await devices.register(s.owner, s.agent_id, { name: 'strong', scopes: ['agents:manage'] });
      const admin = await userWithRole(s.agent_id, 'admin');
      await refused(devices.rotateToken(admin, strong.device.device_id), ErrorCode.Forbidden);
      await expect(resolver.resolve(strong.token)).resolves.toMatchObject({ id: strong.device.device_id });
      await expect(devices.rotateToken(admin, s.device_id)).resolves.toMatchObject({
        device: { device_id: s.device_id },
      });
    });

    it('leaves exactly one working token when rotations race', async () => {
      const s = await seed();
      const results = await Promise.all([
        devices.rotateToken(s.owner, s.device_id),
        devices.rotateToken(s.owner, s.device_id),
        devices.rotateToken(s.owner, s.device_id),
      ]);
      const working = await Promise.all(
        results.map((r) =>
          resolver.resolve(r.token).then(
            () => true,
            () => false,
          ),
        ),
      );
      expect(working.filter(Boolean)).toHaveLength(1);
      expect(await auditOf(s.device_id)).toEqual([
        'device.registered',
        'device.token_rotated',
        'device.token_rotated',
        'device.token_rotated',
      ]);
    });

    it('never leaves a working token behind when a rotation races a revocation', async () => {
      const s = await seed();
      const [rotation] = await Promise.allSettled([
        devices.rotateToken(s.owner, s.device_id),
        devices.revoke(s.owner, s.device_id),
      ]);
      const row = await sql<{
        revoked: boolean;
      }>`SELECT revoked_at IS NOT NULL AS revoked FROM devices WHERE device_id = ${s.device_id}::uuid`.execute(
        context.db.db,
      );
      expect(row.rows[0]?.revoked).toBe(true);
      await refused(resolver.resolve(s.device_token), ErrorCode.Unauthenticated);
      if (rotation.status === 'fulfilled') {
        await refused(resolver.resolve(rotation.value.token), ErrorCode.Unauthenticated);
      } else {
        expect((rotation.reason as DomainError).code).toBe(ErrorCode.Conflict);
      }
    });
  });

  describe('heartbeat', () => {
    const presenceOf = async (spaceId: string, deviceId: string) =>
      (
        await sql<{ agent_id: string; status: string; last_seen: Date }>`
        SELECT agent_id, status, last_seen FROM presence
        WHERE space_id = ${spaceId}::uuid AND subject_type = 'device' AND subject_id = ${deviceId}::uuid`.execute(
          context.db.db,
        )
      ).rows;

    it('stamps last_heartbeat_at and upserts the device’s presence in the space, without auditing', async () => {
      const s = await seed();
      const device = await resolver.resolve(s.device_token);
      const first = await devices.heartbeat(device, { space_id: s.space_id });
      expect(first).toEqual({ device_id: s.device_id, last_heartbeat_at: expect.any(String) });
      expect(await presenceOf(s.space_id, s.device_id)).toEqual([
        { agent_id: s.agent_id, status: 'online', last_seen: new Date(first.last_heartbeat_at) },
      ]);
      const again = await devices.heartbeat(device, { space_id: s.space_id });
      expect(await presenceOf(s.space_id, s.device_id)).toEqual([
        { agent_id: s.agent_id, status: 'online', last_seen: new Date(again.last_heartbeat_at) },
      ]);
      const second = await devices.heartbeat(device, { space_id: s.space_id, status: 'away' });
      expect(await presenceOf(s.space_id, s.device_id)).toEqual([
        { agent_id: s.agent_id, status: 'away', last_seen: new Date(second.last_heartbeat_at) },
      ]);
      const third = await devices.heartbeat(device, {});
      expect((await devices.get(s.owner, s.device_id)).last_heartbeat_at).toBe(third.last_heartbeat_at);
      expect(await auditOf(s.device_id)).toEqual(['device.registered']);

      // Transitions only reach the agent's stream: online and away in the space, online with the agent (no space).
      const stream = await context.moduleRef.get(AgentStream).read(s.agent_id, 1, { topics: ['presence.updated'] });
      expect(stream.map((e) => [e.space_id, e.data['subject_id'], e.data['status']])).toEqual([
        [s.space_id, s.device_id, 'online'],
        [s.space_id, s.device_id, 'away'],
        [null, s.device_id, 'online'],
      ]);
    });

    it("refuses another agent's space like a missing one, users, and devices without presence:write", async () => {
      const s = await seed();
      const other = await seed('Other');
      const device = await resolver.resolve(s.device_token);
      const foreign = await refused(devices.heartbeat(device, { space_id: other.space_id }), ErrorCode.NotFound);
      expect(foreign.message).toBe(`space ${other.space_id} was not found`);
      expect(await presenceOf(other.space_id, s.device_id)).toEqual([]);
      await refused(devices.heartbeat(s.owner, {}), ErrorCode.Forbidden);
      const mute = await devices.register(s.owner, s.agent_id, { name: 'mute', scopes: ['events:write'] });
      await refused(devices.heartbeat(await resolver.resolve(mute.token), {}), ErrorCode.Forbidden);
    });

    it('refuses a device revoked after its request was authenticated', async () => {
      const s = await seed();
      const device = await resolver.resolve(s.device_token);
      await devices.revoke(s.owner, s.device_id);
      await refused(devices.heartbeat(device, { space_id: s.space_id }), ErrorCode.Unauthenticated);
      expect(await presenceOf(s.space_id, s.device_id)).toEqual([]);
    });
  });
});
