import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, type MembershipRole, type Principal } from '@marvain/contracts';
import { TransactionRunner, uniqueViolation, type Tx } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import {
  assertAgentScope,
  IDS,
  nextCursor,
  pageRequest,
  refuseSelfAgentReach,
  type Ids,
  type ListPageQuery,
} from '@marvain/platform';
import type { GrantableRole, MemberList, MemberView, OwnershipTransferView } from './members.dto';
import { MembersRepository, type MemberRow, type MembershipRow } from './members.repository';
import { PrincipalRevocations } from '../principals/principal-revocations';
import { UsersRepository } from '../users/users.repository';

/**
 * Why a membership change was refused with 409 `conflict`: sent as `error.details.reason`,
 * stable like the error codes.
 */
export const MembershipConflict = {
  /** The owner cannot be revoked or removed: every agent keeps exactly one owner. Transfer ownership first. */
  LastOwner: 'last_owner',
  /** The owner's role changes only by transferring ownership. */
  OwnerRoleFixed: 'owner_role_fixed',
  /** The user already holds an active membership on the agent (change its role instead). */
  AlreadyMember: 'already_member',
  /** The caller is already the owner. */
  AlreadyOwner: 'already_owner',
  /** Ownership moved (or another transfer won) while this request ran. */
  OwnershipChanged: 'ownership_changed',
} as const;
export type MembershipConflictReason = (typeof MembershipConflict)[keyof typeof MembershipConflict];

const OWNER_INDEX = 'agent_memberships_one_owner';
const ACTIVE_INDEX = 'agent_memberships_one_active';

const RANK: Readonly<Record<MembershipRole, number>> = { guest: 0, member: 1, admin: 2, owner: 3 };
const rank = (role: string): number => (RANK as Partial<Record<string, number>>)[role] ?? -1;

function conflict(reason: MembershipConflictReason, message: string): DomainError {
  return new DomainError(ErrorCode.Conflict, message, { reason });
}

function requireUser(principal: Principal, what: string): void {
  if (principal.type !== 'user') {
    throw new DomainError(ErrorCode.Forbidden, `only a user who is a member of the agent can ${what}`);
  }
}

function view(row: MembershipRow, user: { email: string | null; display_name: string | null }): MemberView {
  return {
    membership_id: row.membership_id,
    agent_id: row.agent_id,
    user_id: row.user_id,
    role: row.role,
    email: user.email,
    display_name: user.display_name,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

const memberView = (row: MemberRow): MemberView => view(row, row);

/** A concurrent writer that won a membership race surfaces as 409, never as 500. */
export function membershipConflictFrom(error: unknown): DomainError | undefined {
  const constraint = uniqueViolation(error);
  if (constraint === OWNER_INDEX) {
    return conflict(
      MembershipConflict.OwnershipChanged,
      'the agent already has an owner; ownership changed while this request ran',
    );
  }
  if (constraint === ACTIVE_INDEX) {
    return conflict(
      MembershipConflict.AlreadyMember,
      'the user is already a member of this agent; change their role instead',
    );
  }
  return undefined;
}

/**
 * Memberships and roles: grant, change, revoke, transfer ownership. Each change is one
 * transaction that also appends to the agent's audit chain. A user's scopes come only from
 * ROLE_SCOPES of the role stored here (the resolver reads it on every request).
 *
 * Rules beyond the route's scope: only users change memberships; the owner's membership is
 * changed only by transfer-ownership; a caller may grant roles up to their own and may change or
 * revoke only memberships ranked below their own (an admin cannot demote or remove another admin;
 * the owner can) — except their own, which anyone but the owner may lower or end.
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly repository: MembersRepository,
    private readonly users: UsersRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(IDS) private readonly ids: Ids,
    private readonly revocations: PrincipalRevocations,
  ) {}

  async list(principal: Principal, agentId: string, query: ListPageQuery = {}): Promise<MemberList> {
    assertAgentScope(principal, agentId, 'agents:read');
    refuseSelfAgentReach(principal, agentId, 'members');
    const page = await this.repository.listActive(agentId, pageRequest(query));
    return { members: page.rows.map(memberView), next_cursor: nextCursor(page) };
  }

  async add(principal: Principal, agentId: string, userId: string, role: GrantableRole): Promise<MemberView> {
    assertAgentScope(principal, agentId, 'members:manage');
    requireUser(principal, 'add members');
    return this.run(async (tx) => {
      const caller = await this.callerMembership(tx, principal, agentId);
      if (rank(role) > rank(caller.role)) {
        throw new DomainError(ErrorCode.Forbidden, `a ${caller.role} cannot grant the ${role} role`);
      }
      if (!(await this.users.find(userId, tx.db))) {
        throw DomainError.notFound('user', userId);
      }
      if (await this.repository.findActive(agentId, userId, tx.db)) {
        throw conflict(
          MembershipConflict.AlreadyMember,
          'the user is already a member of this agent; change their role instead',
        );
      }
      const inserted = await this.repository.insert(
        { membership_id: this.ids.random(), agent_id: agentId, user_id: userId, role },
        tx.db,
      );
      await this.audit.append(tx, {
        agentId,
        action: 'membership.granted',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'user', id: userId },
        details: { membership_id: inserted.membership_id, role },
      });
      return this.current(tx, agentId, userId);
    });
  }

  async changeRole(principal: Principal, agentId: string, userId: string, role: GrantableRole): Promise<MemberView> {
    assertAgentScope(principal, agentId, 'members:manage');
    requireUser(principal, 'change roles');
    return this.run(async (tx) => {
      const target = await this.lockMember(tx, agentId, userId);
      if (target.role === 'owner') {
        throw conflict(
          MembershipConflict.OwnerRoleFixed,
          "the owner's role cannot be changed; transfer ownership to another member instead",
        );
      }
      const self = userId === principal.id;
      const caller = self ? target : await this.callerMembership(tx, principal, agentId);
      if (!self && rank(target.role) >= rank(caller.role)) {
        throw new DomainError(ErrorCode.Forbidden, `a ${caller.role} cannot change the role of a ${target.role}`);
      }
      if (rank(role) > rank(caller.role)) {
        throw new DomainError(ErrorCode.Forbidden, `a ${caller.role} cannot grant the ${role} role`);
      }
      if (target.role === role) {
        return this.current(tx, agentId, userId);
      }
      await this.repository.setRole(target.membership_id, role, tx.db);
      await this.audit.append(tx, {
        agentId,
        action: 'membership.role_changed',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'user', id: userId },
        details: { membership_id: target.membership_id, from: target.role, to: role },
      });
      this.revocations.afterCommit(tx, { principal: { type: 'user', id: userId }, reason: 'access_changed' });
      return this.current(tx, agentId, userId);
    });
  }

  /** Ends another user's membership (members:manage), or the caller's own (an admin stepping down). */
  async revoke(principal: Principal, agentId: string, userId: string): Promise<MemberView> {
    assertAgentScope(principal, agentId, 'members:manage');
    requireUser(principal, 'revoke members');
    return this.end(principal, agentId, userId);
  }

  /** The caller leaves the agent; any member but the owner may. */
  async leave(principal: Principal, agentId: string): Promise<MemberView> {
    if (!principal.agents.some((a) => a.agent_id === agentId)) {
      throw DomainError.notFound('agent', agentId);
    }
    requireUser(principal, 'leave it');
    return this.end(principal, agentId, principal.id);
  }

  /**
   * Makes another active member the owner; the caller (the current owner) becomes an admin. One
   * transaction: the owner row is locked FOR UPDATE, then demoted, then the target promoted, so
   * the partial unique index `agent_memberships_one_owner` is never violated by this transaction
   * and two racing transfers cannot both succeed (the loser gets 409 ownership_changed).
   */
  async transferOwnership(principal: Principal, agentId: string, userId: string): Promise<OwnershipTransferView> {
    // agents:manage belongs to the owner role only; the locked owner row below is what decides.
    assertAgentScope(principal, agentId, 'agents:manage');
    requireUser(principal, 'transfer ownership');
    if (userId === principal.id) {
      throw conflict(MembershipConflict.AlreadyOwner, 'the caller is already the owner');
    }
    return this.run(async (tx) => {
      const owner = await this.repository.lockOwner(agentId, tx.db);
      if (owner?.user_id !== principal.id) {
        throw conflict(
          MembershipConflict.OwnershipChanged,
          'only the current owner can transfer ownership, and the caller no longer is',
        );
      }
      const target = await this.lockMember(tx, agentId, userId);
      await this.repository.setRole(owner.membership_id, 'admin', tx.db);
      await this.repository.setRole(target.membership_id, 'owner', tx.db);
      await this.audit.append(tx, {
        agentId,
        action: 'membership.ownership_transferred',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'user', id: userId },
        details: {
          from_user_id: owner.user_id,
          to_user_id: userId,
          from_membership_id: owner.membership_id,
          to_membership_id: target.membership_id,
          previous_owner_role: 'admin',
          new_owner_previous_role: target.role,
        },
      });
      for (const id of [owner.user_id, userId]) {
        this.revocations.afterCommit(tx, { principal: { type: 'user', id }, reason: 'access_changed' });
      }
      return {
        agent_id: agentId,
        owner: await this.current(tx, agentId, userId),
        previous_owner: await this.current(tx, agentId, owner.user_id),
      };
    });
  }

  private async end(principal: Principal, agentId: string, userId: string): Promise<MemberView> {
    return this.run(async (tx) => {
      const target = await this.lockMember(tx, agentId, userId);
      if (target.role === 'owner') {
        throw conflict(
          MembershipConflict.LastOwner,
          "the agent's owner cannot be removed: it is the only owner; transfer ownership first",
        );
      }
      const self = userId === principal.id;
      if (!self) {
        const caller = await this.callerMembership(tx, principal, agentId);
        if (rank(target.role) >= rank(caller.role)) {
          throw new DomainError(
            ErrorCode.Forbidden,
            `a ${caller.role} cannot revoke the membership of a ${target.role}`,
          );
        }
      }
      const before = await this.current(tx, agentId, userId);
      const revoked = await this.repository.revoke(target.membership_id, tx.db);
      if (!revoked) {
        throw DomainError.notFound('member', userId);
      }
      await this.audit.append(tx, {
        agentId,
        action: 'membership.revoked',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'user', id: userId },
        details: { membership_id: target.membership_id, role: target.role, self },
      });
      this.revocations.afterCommit(tx, { principal: { type: 'user', id: userId }, reason: 'access_changed' });
      return view(revoked, before);
    });
  }

  /**
   * Runs a membership change; a lost race on a unique index becomes 409 instead of 500. The error
   * raised inside the transaction is the one that counts: on the RDS Data API a statement error
   * aborts the transaction, so the rollback that follows fails too (TransactionNotFoundException)
   * and would otherwise hide it.
   */
  private async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    let raised: { error: unknown } | undefined;
    try {
      return await this.transactions.run(async (tx) => {
        try {
          return await work(tx);
        } catch (error) {
          raised = { error };
          throw error;
        }
      });
    } catch (error) {
      const cause = raised ? raised.error : error;
      throw membershipConflictFrom(cause) ?? cause;
    }
  }

  /** The target's active membership, locked for the rest of the transaction; 404 when there is none. */
  private async lockMember(tx: Tx, agentId: string, userId: string): Promise<MembershipRow> {
    const row = await this.repository.findActive(agentId, userId, tx.db, { forUpdate: true });
    if (!row) {
      throw DomainError.notFound('member', userId);
    }
    return row;
  }

  /** The caller's membership as it is now; gone since the request was authorised → the agent is gone for them. */
  private async callerMembership(tx: Tx, principal: Principal, agentId: string): Promise<MembershipRow> {
    const row = await this.repository.findActive(agentId, principal.id, tx.db);
    if (!row) {
      throw DomainError.notFound('agent', agentId);
    }
    return row;
  }

  private async current(tx: Tx, agentId: string, userId: string): Promise<MemberView> {
    const row = await this.repository.findActiveMember(agentId, userId, tx.db);
    if (!row) {
      throw DomainError.notFound('member', userId);
    }
    return memberView(row);
  }
}
