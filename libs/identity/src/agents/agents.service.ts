import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, hasScope, scopesOfRole, type AgentKind, type Principal } from '@marvain/contracts';
import { TransactionRunner, type AgentRow } from '@marvain/db';
import { AuditService } from '@marvain/audit';
import { assertAgentScope, IDS, nextCursor, pageRequest, type Ids, type ListPageQuery } from '@marvain/platform';
import type { AgentList, AgentView } from './agents.dto';
import { AgentsRepository, type AgentWithRole } from './agents.repository';
import { MembersRepository } from '../members/members.repository';
import { PrincipalRevocations } from '../principals/principal-revocations';

function toView(row: AgentRow, role: string | null): AgentView {
  return {
    agent_id: row.agent_id,
    name: row.name,
    kind: row.kind,
    disabled: row.disabled,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    role,
  };
}

const withRole = (row: AgentWithRole): AgentView => toView(row, row.role);
const userIdOf = (principal: Principal): string | null => (principal.type === 'user' ? principal.id : null);

/**
 * Agents: create (the creating user becomes the owner), list, get, rename, disable, enable. A disabled
 * agent disappears for everyone at once: the resolver drops it from every user's memberships and
 * refuses its devices and its own assertions, so no read here needs to look at `disabled` twice.
 */
@Injectable()
export class AgentsService {
  constructor(
    private readonly repository: AgentsRepository,
    private readonly members: MembersRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(IDS) private readonly ids: Ids,
    private readonly revocations: PrincipalRevocations,
  ) {}

  async create(principal: Principal, input: { name: string; kind?: AgentKind }): Promise<AgentView> {
    if (principal.type !== 'user') {
      throw new DomainError(ErrorCode.Forbidden, 'only a user can create an agent (the creator becomes its owner)');
    }
    const name = input.name.trim();
    const kind = input.kind ?? 'self';
    const agent = await this.transactions.run(async (tx) => {
      const inserted = await this.repository.insert({ agent_id: this.ids.random(), name, kind }, tx.db);
      const membership = await this.members.insert(
        { membership_id: this.ids.random(), agent_id: inserted.agent_id, user_id: principal.id, role: 'owner' },
        tx.db,
      );
      const actor = { type: principal.type, id: principal.id };
      await this.audit.append(tx, {
        agentId: inserted.agent_id,
        action: 'agent.created',
        actor,
        subject: { type: 'agent', id: inserted.agent_id },
        details: { name, kind },
      });
      await this.audit.append(tx, {
        agentId: inserted.agent_id,
        action: 'membership.granted',
        actor,
        subject: { type: 'user', id: principal.id },
        details: { membership_id: membership.membership_id, role: 'owner' },
      });
      return inserted;
    });
    return toView(agent, 'owner');
  }

  /** One page of the agents the caller may read (agents:read on them), with the caller's role on each. */
  async list(principal: Principal, query: ListPageQuery = {}): Promise<AgentList> {
    const readable = principal.agents.filter((a) => hasScope(a.scopes, 'agents:read')).map((a) => a.agent_id);
    const page = await this.repository.pageWithRole(readable, userIdOf(principal), pageRequest(query));
    return { agents: page.rows.map(withRole), next_cursor: nextCursor(page) };
  }

  async get(principal: Principal, agentId: string): Promise<AgentView> {
    assertAgentScope(principal, agentId, 'agents:read');
    const row = await this.repository.findWithRole(agentId, userIdOf(principal));
    if (!row) {
      throw DomainError.notFound('agent', agentId);
    }
    return withRole(row);
  }

  async update(principal: Principal, agentId: string, input: { name?: string }): Promise<AgentView> {
    assertAgentScope(principal, agentId, 'agents:manage');
    if (principal.type !== 'user') {
      throw new DomainError(ErrorCode.Forbidden, 'only a user who is a member of the agent can change it');
    }
    const name = input.name?.trim();
    await this.transactions.run(async (tx) => {
      const current = await this.repository.lockEnabled(agentId, tx.db);
      if (!current) {
        throw DomainError.notFound('agent', agentId);
      }
      if (name === undefined || name === current.name) {
        return;
      }
      await this.repository.rename(agentId, name, tx.db);
      await this.audit.append(tx, {
        agentId,
        action: 'agent.updated',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'agent', id: agentId },
        details: { name: { from: current.name, to: name } },
      });
    });
    return this.get(principal, agentId);
  }

  /**
   * Disables the agent. From the next request on, its members no longer see it (404), its
   * devices and its own assertions are refused (401); nothing is deleted.
   */
  async disable(principal: Principal, agentId: string): Promise<AgentView> {
    assertAgentScope(principal, agentId, 'agents:manage');
    if (principal.type !== 'user') {
      throw new DomainError(ErrorCode.Forbidden, 'only a user who is a member of the agent can disable it');
    }
    return this.transactions.run(async (tx) => {
      const disabled = await this.repository.disable(agentId, tx.db);
      if (!disabled) {
        throw DomainError.notFound('agent', agentId);
      }
      const membership = await this.members.findActive(agentId, principal.id, tx.db);
      await this.audit.append(tx, {
        agentId,
        action: 'agent.disabled',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'agent', id: agentId },
      });
      this.revocations.afterCommit(tx, { agentId, reason: 'credential_revoked' });
      return toView(disabled, membership?.role ?? null);
    });
  }

  /**
   * Enables a disabled agent again: its members, devices and key work from the next request on,
   * with everything they had (nothing was deleted). Only a member whose role holds agents:manage
   * (the owner), like disable. A disabled agent is not among the caller's agents (the resolver
   * leaves it out), so the membership is read here instead of through assertAgentScope; a caller
   * who is not a member sees 404, as for any agent of someone else. Enabling an enabled agent
   * changes (and audits) nothing.
   */
  async enable(principal: Principal, agentId: string): Promise<AgentView> {
    if (principal.type !== 'user') {
      throw new DomainError(ErrorCode.Forbidden, 'only a user who is a member of the agent can enable it');
    }
    return this.transactions.run(async (tx) => {
      const membership = await this.members.findActive(agentId, principal.id, tx.db);
      if (!membership) {
        throw DomainError.notFound('agent', agentId);
      }
      if (!hasScope(scopesOfRole(membership.role), 'agents:manage')) {
        throw new DomainError(
          ErrorCode.Forbidden,
          `enabling the agent needs agents:manage, which the ${membership.role} role does not hold`,
        );
      }
      const enabled = await this.repository.enable(agentId, tx.db);
      if (enabled) {
        await this.audit.append(tx, {
          agentId,
          action: 'agent.enabled',
          actor: { type: principal.type, id: principal.id },
          subject: { type: 'agent', id: agentId },
        });
      }
      const row = enabled ?? (await this.repository.findAny(agentId, tx.db));
      if (!row) {
        throw DomainError.notFound('agent', agentId);
      }
      return toView(row, membership.role);
    });
  }
}
