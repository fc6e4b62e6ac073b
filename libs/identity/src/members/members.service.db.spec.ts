import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { DomainError, ErrorCode, ROLE_SCOPES, type Principal } from '@marvain/contracts';
import { testDatabaseEngine, testDatabaseKind } from '@marvain/db/testing';
import {
  auditEntries,
  openFeatureTestContext,
  refused,
  type AuditEntryBody,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { AuditService } from '@marvain/audit';
import type { BootstrapResult } from '../bootstrap/bootstrap.service';
import { IdentityModule } from '../identity.module';
import { MembershipConflict, membershipConflictFrom, MembersService } from './members.service';
import { PrincipalResolver } from '../principals/principal-resolver.service';
import { ownerFixtures } from '../testing';
import { TestStreamPublisherModule } from '@marvain/streams/testing';

jest.setTimeout(120_000);

describe(`MembersService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let members: MembersService;
  let resolver: PrincipalResolver;
  let audit: AuditService;
  const { seed, as } = ownerFixtures(() => context);

  beforeAll(async () => {
    context = await openFeatureTestContext([IdentityModule, TestStreamPublisherModule]);
    members = context.moduleRef.get(MembersService);
    resolver = context.moduleRef.get(PrincipalResolver);
    audit = context.moduleRef.get(AuditService);
  });

  afterAll(() => context.close());

  /** An agent whose owner is `owner`, plus users added with the given roles. */
  async function team(
    ...roles: Array<'admin' | 'member' | 'guest'>
  ): Promise<{ owner: BootstrapResult; users: BootstrapResult[] }> {
    const owner = await seed();
    const users: BootstrapResult[] = [];
    for (const role of roles) {
      const user = await seed('Elsewhere');
      await members.add(await as(owner), owner.agent_id, user.user_id, role);
      users.push(user);
    }
    return { owner, users };
  }

  async function activeOwners(agentId: string): Promise<string[]> {
    const result = await sql<{ user_id: string }>`
      SELECT user_id FROM agent_memberships WHERE agent_id = ${agentId}::uuid AND role = 'owner' AND revoked_at IS NULL`.execute(
      context.db.db,
    );
    return result.rows.map((r) => r.user_id);
  }

  const agentAudit = (agentId: string): Promise<AuditEntryBody[]> => auditEntries(context.db.db, { agentId });

  function scopesOn(principal: Principal, agentId: string): readonly string[] | undefined {
    return principal.agents.find((a) => a.agent_id === agentId)?.scopes;
  }

  it('adds, re-roles and revokes members; each change is audited and the resolver applies it on the next request', async () => {
    const { owner } = await team();
    const other = await seed('Other');
    expect(scopesOn(await as(other), owner.agent_id)).toBeUndefined();

    const added = await members.add(await as(owner), owner.agent_id, other.user_id, 'member');
    expect(added).toMatchObject({ agent_id: owner.agent_id, user_id: other.user_id, role: 'member', revoked_at: null });
    expect(scopesOn(await as(other), owner.agent_id)).toEqual(ROLE_SCOPES.member);

    const listed = (await members.list(await as(other), owner.agent_id)).members;
    expect(listed.map((m) => [m.user_id, m.role])).toEqual([
      [owner.user_id, 'owner'],
      [other.user_id, 'member'],
    ]);

    await members.changeRole(await as(owner), owner.agent_id, other.user_id, 'admin');
    expect(scopesOn(await as(other), owner.agent_id)).toEqual(ROLE_SCOPES.admin);

    const revoked = await members.revoke(await as(owner), owner.agent_id, other.user_id);
    expect(revoked).toMatchObject({ role: 'admin', revoked_at: expect.any(String) });
    expect(scopesOn(await as(other), owner.agent_id)).toBeUndefined();

    const actions = await agentAudit(owner.agent_id);
    expect(actions.slice(-3)).toEqual([
      expect.objectContaining({ action: 'membership.granted', details: expect.objectContaining({ role: 'member' }) }),
      expect.objectContaining({
        action: 'membership.role_changed',
        details: expect.objectContaining({ from: 'member', to: 'admin' }),
      }),
      expect.objectContaining({
        action: 'membership.revoked',
        details: expect.objectContaining({ role: 'admin', self: false }),
      }),
    ]);
    await audit.flush();
    await expect(audit.verify(owner.agent_id)).resolves.toMatchObject({ ok: true });
  });

  it('refuses unknown users and users who are already members', async () => {
    const { owner, users } = await team('member');
    const missing = randomUUID();
    const unknown = await refused(members.add(await as(owner), owner.agent_id, missing, 'member'));
    expect([unknown.code, unknown.message]).toEqual([ErrorCode.NotFound, `user ${missing} was not found`]);
    const twice = await refused(members.add(await as(owner), owner.agent_id, users[0]!.user_id, 'guest'));
    expect([twice.code, twice.details]).toEqual([ErrorCode.Conflict, { reason: MembershipConflict.AlreadyMember }]);
  });

  it('never lets the owner be re-roled or removed: ownership moves only by transfer', async () => {
    const { owner, users } = await team('admin');
    const admin = users[0]!;
    for (const [who, call] of [
      ['owner re-roles self', async () => members.changeRole(await as(owner), owner.agent_id, owner.user_id, 'admin')],
      [
        'admin re-roles owner',
        async () => members.changeRole(await as(admin), owner.agent_id, owner.user_id, 'member'),
      ],
    ] as const) {
      const error = await refused(call());
      expect({ who, code: error.code, details: error.details }).toEqual({
        who,
        code: ErrorCode.Conflict,
        details: { reason: MembershipConflict.OwnerRoleFixed },
      });
    }
    for (const [who, call] of [
      ['owner revokes self', async () => members.revoke(await as(owner), owner.agent_id, owner.user_id)],
      ['admin revokes owner', async () => members.revoke(await as(admin), owner.agent_id, owner.user_id)],
      ['owner leaves', async () => members.leave(await as(owner), owner.agent_id)],
    ] as const) {
      const error = await refused(call());
      expect({ who, code: error.code, details: error.details }).toEqual({
        who,
        code: ErrorCode.Conflict,
        details: { reason: MembershipConflict.LastOwner },
      });
    }
    expect(await activeOwners(owner.agent_id)).toEqual([owner.user_id]);
  });

  it('lets admins manage those below them but not other admins; anyone but the owner may step down', async () => {
    const { owner, users } = await team('admin', 'admin', 'member', 'guest');
    const [adminA, adminB, member, guest] = users as [
      BootstrapResult,
      BootstrapResult,
      BootstrapResult,
      BootstrapResult,
    ];

    await expect(members.changeRole(await as(adminA), owner.agent_id, member.user_id, 'guest')).resolves.toMatchObject({
      role: 'guest',
    });
    expect((await refused(members.changeRole(await as(adminA), owner.agent_id, adminB.user_id, 'member'))).code).toBe(
      ErrorCode.Forbidden,
    );
    expect((await refused(members.revoke(await as(adminA), owner.agent_id, adminB.user_id))).code).toBe(
      ErrorCode.Forbidden,
    );
    // members:manage is the admin's and the owner's only.
    expect((await refused(members.add(await as(member), owner.agent_id, guest.user_id, 'guest'))).code).toBe(
      ErrorCode.Forbidden,
    );
    expect((await refused(members.revoke(await as(guest), owner.agent_id, member.user_id))).code).toBe(
      ErrorCode.Forbidden,
    );

    // Stepping down: an admin lowers or ends their own membership; a guest leaves.
    await expect(members.changeRole(await as(adminB), owner.agent_id, adminB.user_id, 'member')).resolves.toMatchObject(
      { role: 'member' },
    );
    expect((await refused(members.changeRole(await as(adminB), owner.agent_id, adminB.user_id, 'admin'))).code).toBe(
      ErrorCode.Forbidden,
    );
    await expect(members.revoke(await as(adminA), owner.agent_id, adminA.user_id)).resolves.toMatchObject({
      revoked_at: expect.any(String),
    });
    await expect(members.leave(await as(guest), owner.agent_id)).resolves.toMatchObject({
      role: 'guest',
      revoked_at: expect.any(String),
    });
    expect(scopesOn(await as(guest), owner.agent_id)).toBeUndefined();

    const left = (await agentAudit(owner.agent_id))
      .filter((a) => a.action === 'membership.revoked')
      .map((a) => a.details?.['self']);
    expect(left).toEqual([true, true]);
    // The owner manages admins.
    await expect(members.changeRole(await as(owner), owner.agent_id, adminB.user_id, 'admin')).resolves.toMatchObject({
      role: 'admin',
    });
  });

  it('transfers ownership in one step: the target becomes owner, the old owner an admin, audited', async () => {
    const { owner, users } = await team('member');
    const next = users[0]!;
    const result = await members.transferOwnership(await as(owner), owner.agent_id, next.user_id);
    expect(result).toMatchObject({
      agent_id: owner.agent_id,
      owner: { user_id: next.user_id, role: 'owner' },
      previous_owner: { user_id: owner.user_id, role: 'admin' },
    });
    expect(await activeOwners(owner.agent_id)).toEqual([next.user_id]);
    expect(scopesOn(await as(next), owner.agent_id)).toEqual(ROLE_SCOPES.owner);
    expect(scopesOn(await as(owner), owner.agent_id)).toEqual(ROLE_SCOPES.admin);
    expect((await agentAudit(owner.agent_id)).at(-1)).toMatchObject({
      action: 'membership.ownership_transferred',
      details: { from_user_id: owner.user_id, to_user_id: next.user_id, new_owner_previous_role: 'member' },
    });

    // The old owner, now an admin, can no longer transfer; the new owner can.
    expect((await refused(members.transferOwnership(await as(owner), owner.agent_id, owner.user_id))).code).toBe(
      ErrorCode.Forbidden,
    );
    await members.transferOwnership(await as(next), owner.agent_id, owner.user_id);
    expect(await activeOwners(owner.agent_id)).toEqual([owner.user_id]);
  });

  it('refuses a transfer to a non-member or to oneself', async () => {
    const { owner } = await team();
    const outsider = await seed('Other');
    const notMember = await refused(members.transferOwnership(await as(owner), owner.agent_id, outsider.user_id));
    expect([notMember.code, notMember.message]).toEqual([
      ErrorCode.NotFound,
      `member ${outsider.user_id} was not found`,
    ]);
    const self = await refused(members.transferOwnership(await as(owner), owner.agent_id, owner.user_id));
    expect([self.code, self.details]).toEqual([ErrorCode.Conflict, { reason: MembershipConflict.AlreadyOwner }]);
    expect(await activeOwners(owner.agent_id)).toEqual([owner.user_id]);
  });

  it("answers another agent's members exactly like a missing agent", async () => {
    const { owner } = await team('member');
    const stranger = await seed('Stranger');
    const missing = randomUUID();
    const attempts: Array<(agentId: string) => Promise<unknown>> = [
      async (agentId) => members.list(await as(stranger), agentId),
      async (agentId) => members.add(await as(stranger), agentId, stranger.user_id, 'admin'),
      async (agentId) => members.changeRole(await as(stranger), agentId, owner.user_id, 'guest'),
      async (agentId) => members.revoke(await as(stranger), agentId, owner.user_id),
      async (agentId) => members.leave(await as(stranger), agentId),
      async (agentId) => members.transferOwnership(await as(stranger), agentId, stranger.user_id),
    ];
    for (const attempt of attempts) {
      const foreign = await refused(attempt(owner.agent_id));
      const absent = await refused(attempt(missing));
      expect([foreign.code, foreign.message.replace(owner.agent_id, 'ID')]).toEqual([
        ErrorCode.NotFound,
        'agent ID was not found',
      ]);
      expect([absent.code, absent.message.replace(missing, 'ID')]).toEqual([
        foreign.code,
        foreign.message.replace(owner.agent_id, 'ID'),
      ]);
    }
    expect(await activeOwners(owner.agent_id)).toEqual([owner.user_id]);
  });

  it('refuses membership changes by devices, even when they hold the scope', async () => {
    const { owner, users } = await team('member');
    await sql`UPDATE devices SET scopes = '["members:manage", "agents:manage", "agents:read"]'::jsonb WHERE device_id = ${owner.device_id}::uuid`.execute(
      context.db.db,
    );
    const device = await resolver.resolve(owner.device_token);
    expect((await refused(members.add(device, owner.agent_id, users[0]!.user_id, 'admin'))).code).toBe(
      ErrorCode.Forbidden,
    );
    expect((await refused(members.revoke(device, owner.agent_id, users[0]!.user_id))).code).toBe(ErrorCode.Forbidden);
    expect((await refused(members.transferOwnership(device, owner.agent_id, users[0]!.user_id))).code).toBe(
      ErrorCode.Forbidden,
    );
    expect((await members.list(device, owner.agent_id)).members).toHaveLength(2);
  });

  describe('under concurrency', () => {
    const ROUNDS = 8;

    it('two simultaneous ownership transfers leave exactly one owner; the loser gets 409, never a 500', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { owner, users } = await team('member', 'admin');
        const [b, c] = users as [BootstrapResult, BootstrapResult];
        const principal = await as(owner);
        const outcomes = await Promise.allSettled([
          members.transferOwnership(principal, owner.agent_id, b.user_id),
          members.transferOwnership(principal, owner.agent_id, c.user_id),
        ]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        expect({ round, won: won.length, lost: lost.length }).toEqual({ round, won: 1, lost: 1 });
        expect(lost[0]).toBeInstanceOf(DomainError);
        expect({ code: (lost[0] as DomainError).code, details: (lost[0] as DomainError).details }).toEqual({
          code: ErrorCode.Conflict,
          details: { reason: MembershipConflict.OwnershipChanged },
        });
        const owners = await activeOwners(owner.agent_id);
        expect(owners).toHaveLength(1);
        expect([b.user_id, c.user_id]).toContain(owners[0]);
        const memberships = await sql<{ user_id: string; role: string }>`
          SELECT user_id, role FROM agent_memberships WHERE agent_id = ${owner.agent_id}::uuid AND revoked_at IS NULL`.execute(
          context.db.db,
        );
        expect(memberships.rows.find((r) => r.user_id === owner.user_id)?.role).toBe('admin');
        expect(memberships.rows).toHaveLength(3);
      }
    });

    it('a transfer racing a revoke of its target leaves exactly one owner and answers each cleanly', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { owner, users } = await team('admin');
        const target = users[0]!;
        const principal = await as(owner);
        const [transfer, revoke] = await Promise.allSettled([
          members.transferOwnership(principal, owner.agent_id, target.user_id),
          members.revoke(principal, owner.agent_id, target.user_id),
        ]);
        for (const outcome of [transfer, revoke]) {
          if (outcome.status === 'rejected') {
            expect(outcome.reason).toBeInstanceOf(DomainError);
          }
        }
        const owners = await activeOwners(owner.agent_id);
        expect(owners).toHaveLength(1);
        if (transfer.status === 'fulfilled') {
          // The target became the owner first, so revoking them was refused.
          expect(owners).toEqual([target.user_id]);
          expect(revoke).toMatchObject({
            status: 'rejected',
            reason: { code: ErrorCode.Conflict, details: { reason: MembershipConflict.LastOwner } },
          });
        } else {
          expect(owners).toEqual([owner.user_id]);
          expect(revoke.status).toBe('fulfilled');
          expect((transfer.reason as DomainError).code).toBe(ErrorCode.NotFound);
        }
      }
    });

    it('two simultaneous grants to the same user leave one membership; the loser gets 409 already_member', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const { owner } = await team();
        const user = await seed('Elsewhere');
        const principal = await as(owner);
        const outcomes = await Promise.allSettled([
          members.add(principal, owner.agent_id, user.user_id, 'member'),
          members.add(principal, owner.agent_id, user.user_id, 'admin'),
        ]);
        const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
        expect(lost).toHaveLength(1);
        expect(lost[0]).toMatchObject({
          code: ErrorCode.Conflict,
          details: { reason: MembershipConflict.AlreadyMember },
        });
        const rows = await sql<{ n: string }>`
          SELECT count(*)::text AS n FROM agent_memberships
          WHERE agent_id = ${owner.agent_id}::uuid AND user_id = ${user.user_id}::uuid AND revoked_at IS NULL`.execute(
          context.db.db,
        );
        expect(rows.rows[0]?.n).toBe('1');
      }
    });

    /**
     * Deterministic interleavings: the test holds a transaction open while the service call
     * starts. On PostgreSQL the call reaches its lock or unique-index wait (seen in
     * pg_stat_activity) before the test commits; on PGlite, one connection, it queues behind.
     */
    async function waitForLockWaiter(): Promise<void> {
      if (testDatabaseEngine() !== 'postgres') {
        return;
      }
      const deadline = Date.now() + 10_000;
      for (;;) {
        const waiting = await sql<{ n: string }>`
          SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(
          context.db.db,
        );
        if (Number(waiting.rows[0]?.n) > 0) {
          return;
        }
        if (Date.now() > deadline) {
          throw new Error('the service call never waited on a lock');
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }

    it('a transfer that waits on the owner row while another transfer commits answers 409 ownership_changed', async () => {
      const { owner, users } = await team('member', 'member');
      const [b, c] = users as [BootstrapResult, BootstrapResult];
      const principal = await as(owner);
      let pending!: Promise<unknown>;
      await context.db.db.transaction().execute(async (trx) => {
        // The "other" transfer: lock the owner row, demote, promote c.
        await sql`SELECT membership_id FROM agent_memberships
          WHERE agent_id = ${owner.agent_id}::uuid AND role = 'owner' AND revoked_at IS NULL FOR UPDATE`.execute(trx);
        pending = members.transferOwnership(principal, owner.agent_id, b.user_id).then(
          () => undefined,
          (e: unknown) => e,
        );
        await waitForLockWaiter();
        await sql`UPDATE agent_memberships SET role = 'admin' WHERE agent_id = ${owner.agent_id}::uuid AND user_id = ${owner.user_id}::uuid`.execute(
          trx,
        );
        await sql`UPDATE agent_memberships SET role = 'owner' WHERE agent_id = ${owner.agent_id}::uuid AND user_id = ${c.user_id}::uuid`.execute(
          trx,
        );
      });
      expect(await pending).toMatchObject({
        code: ErrorCode.Conflict,
        details: { reason: MembershipConflict.OwnershipChanged },
      });
      expect(await activeOwners(owner.agent_id)).toEqual([c.user_id]);
    });

    it('a grant that loses the unique-index race to a concurrent grant answers 409 already_member (23505 mapped, never 500)', async () => {
      const { owner } = await team();
      const user = await seed('Elsewhere');
      const principal = await as(owner);
      let pending!: Promise<unknown>;
      await context.db.db.transaction().execute(async (trx) => {
        await sql`INSERT INTO agent_memberships (membership_id, agent_id, user_id, role)
          VALUES (${randomUUID()}::uuid, ${owner.agent_id}::uuid, ${user.user_id}::uuid, 'guest')`.execute(trx);
        // Not committed yet: the service's own check sees no membership and its insert waits on the index.
        pending = members.add(principal, owner.agent_id, user.user_id, 'member').then(
          () => undefined,
          (e: unknown) => e,
        );
        await waitForLockWaiter();
      });
      expect(await pending).toMatchObject({
        code: ErrorCode.Conflict,
        details: { reason: MembershipConflict.AlreadyMember },
      });
      const roles = await sql<{ role: string }>`SELECT role FROM agent_memberships
        WHERE agent_id = ${owner.agent_id}::uuid AND user_id = ${user.user_id}::uuid AND revoked_at IS NULL`.execute(
        context.db.db,
      );
      expect(roles.rows).toEqual([{ role: 'guest' }]);
    });
  });

  describe("the database's own guarantees", () => {
    it('refuse a second active owner; the service maps the violation to 409', async () => {
      const { owner, users } = await team('admin');
      const error = await sql`UPDATE agent_memberships SET role = 'owner'
        WHERE agent_id = ${owner.agent_id}::uuid AND user_id = ${users[0]!.user_id}::uuid`
        .execute(context.db.db)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeDefined();
      expect(membershipConflictFrom(error)).toMatchObject({
        code: ErrorCode.Conflict,
        details: { reason: MembershipConflict.OwnershipChanged },
      });
      expect(await activeOwners(owner.agent_id)).toEqual([owner.user_id]);
    });

    it('refuse a second active membership of one user; the service maps the violation to 409', async () => {
      const { owner, users } = await team('member');
      const error = await sql`INSERT INTO agent_memberships (membership_id, agent_id, user_id, role)
        VALUES (${randomUUID()}::uuid, ${owner.agent_id}::uuid, ${users[0]!.user_id}::uuid, 'guest')`
        .execute(context.db.db)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(membershipConflictFrom(error)).toMatchObject({
        code: ErrorCode.Conflict,
        details: { reason: MembershipConflict.AlreadyMember },
      });
    });
  });
});
