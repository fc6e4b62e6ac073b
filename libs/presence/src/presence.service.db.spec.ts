import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { ErrorCode, ROLE_SCOPES, type Principal, type StreamEntry } from '@marvain/contracts';
import { testDatabaseKind } from '@marvain/db/testing';
import { insertAgents, openFeatureTestContext, refused, type FeatureTestContext } from '@marvain/platform/testing';
import { TransactionRunner } from '@marvain/db';
import { AgentStream, LocalStreamBus } from '@marvain/streams';
import { TestStreamPublisherModule } from '@marvain/streams/testing';
import { MaintenanceService } from './maintenance';
import { PresenceModule } from './presence.module';
import { PRESENCE_OFFLINE_AFTER_SECONDS, PresenceService } from './presence.service';

jest.setTimeout(60_000);

describe(`PresenceService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let presence: PresenceService;
  let stream: AgentStream;
  const published: StreamEntry[] = [];

  beforeAll(async () => {
    context = await openFeatureTestContext([TestStreamPublisherModule, PresenceModule]);
    presence = context.moduleRef.get(PresenceService);
    stream = context.moduleRef.get(AgentStream);
    context.moduleRef.get(LocalStreamBus).listen((entries) => published.push(...entries));
  });

  afterAll(() => context.close());

  interface World {
    agentA: string;
    agentB: string;
    spaceA: string;
    spaceB: string;
    owner: Principal;
    device: Principal;
  }

  async function space(agentId: string, name: string): Promise<string> {
    const result = await sql<{ space_id: string }>`
      INSERT INTO spaces (agent_id, name) VALUES (${agentId}::uuid, ${name}) RETURNING space_id`.execute(context.db.db);
    return (result.rows[0] as { space_id: string }).space_id;
  }

  async function world(): Promise<World> {
    const [agentA, agentB] = await insertAgents(context.db.db, ['A', 'B']);
    const deviceId = randomUUID();
    await sql`INSERT INTO devices (device_id, agent_id, name, token_hash) VALUES (${deviceId}::uuid, ${agentA}::uuid, 'sat', ${randomUUID()})`.execute(
      context.db.db,
    );
    return {
      agentA,
      agentB,
      spaceA: await space(agentA, 'kitchen'),
      spaceB: await space(agentB, 'office'),
      // A user of both agents: its presence is per agent.
      owner: {
        type: 'user',
        id: randomUUID(),
        agents: [
          { agent_id: agentA, scopes: ROLE_SCOPES.owner },
          { agent_id: agentB, scopes: ROLE_SCOPES.owner },
        ],
      },
      device: {
        type: 'device',
        id: deviceId,
        agents: [{ agent_id: agentA, scopes: ['presence:write', 'spaces:read'] }],
      },
    };
  }

  const entries = async (agentId: string): Promise<StreamEntry[]> => stream.read(agentId, 1);
  const rows = async (subjectId: string) =>
    (
      await sql<{ agent_id: string; space_id: string | null; status: string; last_seen: Date }>`
        SELECT agent_id, space_id, status, last_seen FROM presence WHERE subject_id = ${subjectId}::uuid
        ORDER BY agent_id, space_id NULLS FIRST`.execute(context.db.db)
    ).rows;
  /** Moves the subject's last sign `seconds` into the past, as if that much time had passed. */
  const age = (subjectId: string, seconds: number) =>
    sql`UPDATE presence SET last_seen = now() - (${seconds}::integer * interval '1 second') WHERE subject_id = ${subjectId}::uuid`.execute(
      context.db.db,
    );

  describe('connected, seen, disconnected', () => {
    it('puts a connecting principal online with each of its agents, streaming only the transitions', async () => {
      const w = await world();
      await presence.connected(w.owner);
      expect((await rows(w.owner.id)).map((r) => [r.agent_id, r.space_id, r.status]).sort()).toEqual(
        [
          [w.agentA, null, 'online'],
          [w.agentB, null, 'online'],
        ].sort(),
      );
      const [entryA] = await entries(w.agentA);
      expect(await entries(w.agentA)).toHaveLength(1);
      expect(entryA).toMatchObject({
        seq: 1,
        topic: 'presence.updated',
        space_id: null,
        data: { agent_id: w.agentA, space_id: null, subject_type: 'user', subject_id: w.owner.id, status: 'online' },
      });
      expect(await entries(w.agentB)).toHaveLength(1);
      expect(published.filter((e) => e.agent_id === w.agentA)).toEqual([entryA]);

      // A second connection refreshes last_seen and streams nothing.
      await age(w.owner.id, 40);
      await presence.connected(w.owner);
      expect(await entries(w.agentA)).toHaveLength(1);
      const [refreshed] = await rows(w.owner.id);
      expect(Date.now() - (refreshed as { last_seen: Date }).last_seen.getTime()).toBeLessThan(30_000);
    });

    it("stamps a device's last_hello_at on connect", async () => {
      const w = await world();
      await presence.connected(w.device);
      const device = await sql<{ last_hello_at: Date | null }>`
        SELECT last_hello_at FROM devices WHERE device_id = ${w.device.id}::uuid`.execute(context.db.db);
      expect(device.rows[0]?.last_hello_at).toBeInstanceOf(Date);
    });

    it('writes nothing for a ping while last_seen is fresh, refreshes it once stale, and brings an offline row back', async () => {
      const w = await world();
      await presence.connected(w.device);
      const [first] = await rows(w.device.id);
      await presence.seen(w.device);
      expect(await rows(w.device.id)).toEqual([first]);

      await age(w.device.id, 20);
      const [aged] = await rows(w.device.id);
      await presence.seen(w.device);
      const [seen] = await rows(w.device.id);
      expect(seen?.last_seen.getTime()).toBeGreaterThan((aged as { last_seen: Date }).last_seen.getTime());
      expect(seen?.status).toBe('online');
      expect(await entries(w.agentA)).toHaveLength(1);

      await presence.disconnected(w.device);
      expect((await rows(w.device.id)).map((r) => r.status)).toEqual(['offline']);
      await presence.seen(w.device);
      expect((await rows(w.device.id)).map((r) => r.status)).toEqual(['online']);
      expect((await entries(w.agentA)).map((e) => e.data['status'])).toEqual(['online', 'offline', 'online']);
    });

    it('keeps a stated away through pings, and leaves an offline space row offline', async () => {
      const w = await world();
      const transactions = context.moduleRef.get(TransactionRunner);
      await transactions.run((tx) =>
        presence.refresh(tx, {
          agent_id: w.agentA,
          space_id: null,
          subject_type: 'device',
          subject_id: w.device.id,
          status: 'away',
        }),
      );
      await transactions.run((tx) =>
        presence.refresh(tx, {
          agent_id: w.agentA,
          space_id: w.spaceA,
          subject_type: 'device',
          subject_id: w.device.id,
          status: 'online',
        }),
      );
      await sql`UPDATE presence SET status = 'offline' WHERE subject_id = ${w.device.id}::uuid AND space_id IS NOT NULL`.execute(
        context.db.db,
      );
      await age(w.device.id, 20);
      await presence.seen(w.device);
      expect((await rows(w.device.id)).map((r) => [r.space_id, r.status])).toEqual([
        [null, 'away'],
        [w.spaceA, 'offline'],
      ]);
      expect(await entries(w.agentA)).toHaveLength(2);
    });

    it('takes every row of the subject offline on disconnect, once', async () => {
      const w = await world();
      await presence.connected(w.owner);
      await presence.disconnected(w.owner);
      expect((await rows(w.owner.id)).map((r) => r.status)).toEqual(['offline', 'offline']);
      await presence.disconnected(w.owner);
      for (const agentId of [w.agentA, w.agentB]) {
        expect((await entries(agentId)).map((e) => e.data['status'])).toEqual(['online', 'offline']);
      }
    });
  });

  describe('refresh (a heartbeat)', () => {
    it('streams a new row and a status change, not a refresh, in the space the row belongs to', async () => {
      const w = await world();
      const transactions = context.moduleRef.get(TransactionRunner);
      const beat = (status: 'online' | 'away') =>
        transactions.run((tx) =>
          presence.refresh(tx, {
            agent_id: w.agentA,
            space_id: w.spaceA,
            subject_type: 'device',
            subject_id: w.device.id,
            status,
          }),
        );
      const first = await beat('online');
      expect(first).toMatchObject({ space_id: w.spaceA, status: 'online', last_seen: expect.any(String) });
      await beat('online');
      await beat('away');
      const written = await entries(w.agentA);
      expect(written.map((e) => [e.space_id, e.data['status']])).toEqual([
        [w.spaceA, 'online'],
        [w.spaceA, 'away'],
      ]);
    });

    it('writes neither the row nor the entry when the transaction rolls back', async () => {
      const w = await world();
      const before = published.length;
      await expect(
        context.moduleRef.get(TransactionRunner).run(async (tx) => {
          await presence.refresh(tx, {
            agent_id: w.agentA,
            space_id: w.spaceA,
            subject_type: 'device',
            subject_id: w.device.id,
            status: 'online',
          });
          throw new Error('the caller failed');
        }),
      ).rejects.toThrow('the caller failed');
      expect(await rows(w.device.id)).toEqual([]);
      expect(await entries(w.agentA)).toEqual([]);
      expect(published.length).toBe(before);
    });
  });

  describe('leave (a participant left a space)', () => {
    it('takes only that space row offline, streaming it once; a repeated leave, or one never there, changes nothing', async () => {
      const w = await world();
      const transactions = context.moduleRef.get(TransactionRunner);
      const key = { agent_id: w.agentA, space_id: w.spaceA, subject_type: 'device' as const, subject_id: w.device.id };
      await presence.connected(w.device);
      await transactions.run((tx) => presence.refresh(tx, { ...key, status: 'online' }));

      const left = await transactions.run((tx) => presence.leave(tx, key));
      expect(left).toMatchObject({ space_id: w.spaceA, subject_id: w.device.id, status: 'offline' });
      expect(await transactions.run((tx) => presence.leave(tx, key))).toBeNull();
      expect(await transactions.run((tx) => presence.leave(tx, { ...key, space_id: w.spaceB }))).toBeNull();

      // The connection row (no space) stays online.
      expect((await rows(w.device.id)).map((r) => [r.space_id, r.status])).toEqual([
        [null, 'online'],
        [w.spaceA, 'offline'],
      ]);
      expect((await entries(w.agentA)).map((e) => [e.space_id, e.data['status']])).toEqual([
        [null, 'online'],
        [w.spaceA, 'online'],
        [w.spaceA, 'offline'],
      ]);
    });
  });

  describe('rooms (a LiveKit participant)', () => {
    const inRoom = (w: World) => ({
      agent_id: w.agentA,
      space_id: w.spaceA,
      subject_type: 'device' as const,
      subject_id: w.device.id,
    });

    it('keeps a participant online in the space through sweeps and a WebSocket disconnect while it is in the room', async () => {
      const w = await world();
      const transactions = context.moduleRef.get(TransactionRunner);
      await presence.connected(w.device);
      await transactions.run((tx) => presence.enterRoom(tx, inRoom(w)));
      await age(w.device.id, PRESENCE_OFFLINE_AFTER_SECONDS + 60);

      await presence.sweep();
      await presence.disconnected(w.device);
      await presence.sweep();

      // The connection row (no space) went offline with its connection; the room's row stayed.
      expect((await rows(w.device.id)).map((r) => [r.space_id, r.status])).toEqual([
        [null, 'offline'],
        [w.spaceA, 'online'],
      ]);
      expect((await entries(w.agentA)).map((e) => [e.space_id, e.data['status']])).toEqual([
        [null, 'online'],
        [w.spaceA, 'online'],
        [null, 'offline'],
      ]);
    });

    it('releases the row when the participant leaves: offline at once, and swept like any row if it comes back without the room', async () => {
      const w = await world();
      const transactions = context.moduleRef.get(TransactionRunner);
      await transactions.run((tx) => presence.enterRoom(tx, inRoom(w)));
      await age(w.device.id, PRESENCE_OFFLINE_AFTER_SECONDS + 60);
      await presence.sweep();
      expect((await rows(w.device.id)).map((r) => r.status)).toEqual(['online']);

      expect(await transactions.run((tx) => presence.leave(tx, inRoom(w)))).toMatchObject({ status: 'offline' });
      expect((await rows(w.device.id)).map((r) => r.status)).toEqual(['offline']);

      // A heartbeat in that space later is an ordinary sign of life, no longer held by the room.
      await transactions.run((tx) => presence.refresh(tx, { ...inRoom(w), status: 'online' }));
      await age(w.device.id, PRESENCE_OFFLINE_AFTER_SECONDS + 1);
      await presence.sweep();
      expect((await rows(w.device.id)).map((r) => r.status)).toEqual(['offline']);
      expect((await entries(w.agentA)).map((e) => e.data['status'])).toEqual([
        'online',
        'offline',
        'online',
        'offline',
      ]);
    });

    it('releases every participant the room still holds when the room finishes, and nothing of other spaces', async () => {
      const w = await world();
      const transactions = context.moduleRef.get(TransactionRunner);
      const spaceA2 = await space(w.agentA, 'hall');
      const user: Principal = { ...w.owner, id: randomUUID() };
      await transactions.run(async (tx) => {
        await presence.enterRoom(tx, inRoom(w));
        await presence.enterRoom(tx, { ...inRoom(w), subject_type: 'user', subject_id: user.id });
        await presence.enterRoom(tx, { ...inRoom(w), space_id: spaceA2 });
      });

      expect(await transactions.run((tx) => presence.roomFinished(tx, w.agentA, w.spaceA))).toBe(2);
      expect(await transactions.run((tx) => presence.roomFinished(tx, w.agentA, w.spaceA))).toBe(0);
      expect(Object.fromEntries((await rows(w.device.id)).map((r) => [r.space_id, r.status]))).toEqual({
        [w.spaceA]: 'offline',
        [spaceA2]: 'online',
      });
      expect((await rows(user.id)).map((r) => r.status)).toEqual(['offline']);

      // The other space's room still holds its row.
      await age(w.device.id, PRESENCE_OFFLINE_AFTER_SECONDS + 1);
      await presence.sweep();
      expect(Object.fromEntries((await rows(w.device.id)).map((r) => [r.space_id, r.status]))).toEqual({
        [w.spaceA]: 'offline',
        [spaceA2]: 'online',
      });
    });
  });

  describe('sweep', () => {
    it(`turns rows unseen for over ${PRESENCE_OFFLINE_AFTER_SECONDS} s offline, streaming each, and leaves the rest`, async () => {
      const w = await world();
      const late = await world();
      await presence.connected(w.owner);
      await presence.connected(late.device);
      await age(w.owner.id, PRESENCE_OFFLINE_AFTER_SECONDS + 1);
      await age(late.device.id, PRESENCE_OFFLINE_AFTER_SECONDS - 10);

      expect(await presence.sweep()).toBeGreaterThanOrEqual(2);
      expect((await rows(w.owner.id)).map((r) => r.status)).toEqual(['offline', 'offline']);
      expect((await rows(late.device.id)).map((r) => r.status)).toEqual(['online']);
      expect((await entries(w.agentA)).map((e) => e.data['status'])).toEqual(['online', 'offline']);
      expect((await entries(w.agentB)).map((e) => e.data['status'])).toEqual(['online', 'offline']);

      // Offline rows are not swept again.
      await presence.sweep();
      expect(await entries(w.agentA)).toHaveLength(2);
    });

    it('writes each transition once when sweeps overlap', async () => {
      const w = await world();
      const users: Principal[] = Array.from({ length: 12 }, () => ({
        type: 'user',
        id: randomUUID(),
        agents: [{ agent_id: w.agentA, scopes: ROLE_SCOPES.member }],
      }));
      for (const user of users) {
        await presence.connected(user);
        await age(user.id, PRESENCE_OFFLINE_AFTER_SECONDS + 1);
      }
      await Promise.all([presence.sweep(), presence.sweep(), presence.sweep()]);
      const offline = (await entries(w.agentA)).filter((e) => e.data['status'] === 'offline');
      expect(offline.map((e) => e.data['subject_id']).sort()).toEqual(users.map((u) => u.id).sort());
    });
  });

  describe('list', () => {
    it("answers the agent's presence, or one space's, to a principal with spaces:read", async () => {
      const w = await world();
      await presence.connected(w.owner);
      await context.moduleRef.get(TransactionRunner).run((tx) =>
        presence.refresh(tx, {
          agent_id: w.agentA,
          space_id: w.spaceA,
          subject_type: 'device',
          subject_id: w.device.id,
          status: 'away',
        }),
      );
      const all = await presence.list(w.owner, w.agentA);
      expect(all.map((v) => [v.subject_id, v.space_id, v.status]).sort()).toEqual(
        [
          [w.owner.id, null, 'online'],
          [w.device.id, w.spaceA, 'away'],
        ].sort(),
      );
      expect(await presence.list(w.owner, w.agentA, w.spaceA)).toEqual([
        expect.objectContaining({ subject_id: w.device.id, space_id: w.spaceA }),
      ]);
      expect(await presence.listForSpace(w.device, w.spaceA)).toEqual(await presence.list(w.owner, w.agentA, w.spaceA));
      expect(await presence.list(w.owner, w.agentB, w.spaceB)).toEqual([]);
    });

    it("answers another agent, another agent's space and a missing id alike, and refuses a caller without spaces:read", async () => {
      const w = await world();
      const missing = randomUUID();
      const foreign = await refused(presence.list(w.device, w.agentB), ErrorCode.NotFound);
      const absent = await refused(presence.list(w.device, missing), ErrorCode.NotFound);
      expect(foreign.message.replace(w.agentB, '<id>')).toBe(absent.message.replace(missing, '<id>'));

      const foreignSpace = await refused(presence.listForSpace(w.device, w.spaceB), ErrorCode.NotFound);
      const absentSpace = await refused(presence.listForSpace(w.device, missing), ErrorCode.NotFound);
      expect(foreignSpace.message.replace(w.spaceB, '<id>')).toBe(absentSpace.message.replace(missing, '<id>'));
      // A space of the owner's other agent is not agent A's.
      await refused(presence.list(w.owner, w.agentA, w.spaceB), ErrorCode.NotFound);

      const mute: Principal = { ...w.device, agents: [{ agent_id: w.agentA, scopes: ['presence:write'] }] };
      await refused(presence.list(mute, w.agentA), ErrorCode.Forbidden);
      await refused(presence.listForSpace(mute, w.spaceA), ErrorCode.Forbidden);
    });
  });

  describe('maintenance', () => {
    it('sweeps presence and deletes stream entries past the retention', async () => {
      const w = await world();
      await presence.connected(w.owner);
      await presence.disconnected(w.owner);
      await presence.connected(w.owner);
      // The first two entries of agent A are older than the retention (7 days by default).
      await sql`UPDATE agent_stream SET created_at = now() - interval '8 days' WHERE agent_id = ${w.agentA}::uuid AND seq <= 2`.execute(
        context.db.db,
      );
      await age(w.owner.id, PRESENCE_OFFLINE_AFTER_SECONDS + 1);

      const result = await context.moduleRef.get(MaintenanceService).run();
      expect(result.swept).toBeGreaterThanOrEqual(2);
      expect(result.pruned).toBeGreaterThanOrEqual(2);
      expect((await stream.read(w.agentA, 3)).map((e) => [e.seq, e.data['status']])).toEqual([
        [3, 'online'],
        [4, 'offline'],
      ]);
      const expired = await refused(stream.read(w.agentA, 1), ErrorCode.StreamExpired);
      expect(expired.details).toEqual({ oldest_seq: 3 });
    });
  });
});
