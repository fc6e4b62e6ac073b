import { Inject, Injectable } from '@nestjs/common';
import { calculateJwkThumbprint } from 'jose';
import { DomainError, ErrorCode, type Principal } from '@marvain/contracts';
import { TransactionRunner, type AgentCredentialRow } from '@marvain/db';
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
import { publicJwk, validateAgentPublicKey, type AgentKeyAlgorithm } from './agent-assertions';
import type { AgentCredentialList, AgentCredentialView } from './agent-credentials.dto';
import { AgentCredentialsRepository } from './agent-credentials.repository';
import { PrincipalRevocations } from '../principals/principal-revocations';

async function toView(row: AgentCredentialRow): Promise<AgentCredentialView> {
  return {
    ...row,
    thumbprint: await calculateJwkThumbprint(publicJwk(row.public_key)),
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

/** Registers, replaces and revokes the public key an agent authenticates with; every change audited. */
@Injectable()
export class AgentCredentialsService {
  constructor(
    private readonly repository: AgentCredentialsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(IDS) private readonly ids: Ids,
    private readonly revocations: PrincipalRevocations,
  ) {}

  /** Registers the agent's key; an existing active key is revoked in the same transaction (replace). */
  async register(
    principal: Principal,
    agentId: string,
    alg: AgentKeyAlgorithm,
    jwk: Record<string, unknown>,
  ): Promise<AgentCredentialView> {
    assertAgentScope(principal, agentId, 'agents:manage');
    if (principal.type !== 'user') {
      throw new DomainError(ErrorCode.Forbidden, "only a member of the agent can register the agent's key");
    }
    const publicKey = await validateAgentPublicKey(alg, jwk);
    const row = await this.transactions.run(async (tx) => {
      const replaced = await this.repository.revokeActive(agentId, tx.db);
      const inserted = await this.repository.insert(
        {
          credential_id: this.ids.random(),
          agent_id: agentId,
          alg,
          public_key: { ...publicKey },
          created_by: principal.id,
        },
        tx.db,
      );
      await this.audit.append(tx, {
        agentId,
        action: replaced.length > 0 ? 'agent_credential.replaced' : 'agent_credential.registered',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'agent_credential', id: inserted.credential_id },
        details: {
          alg,
          thumbprint: await calculateJwkThumbprint(publicKey),
          replaced: replaced.map((r) => r.credential_id),
        },
      });
      if (replaced.length > 0) {
        this.revocations.afterCommit(tx, { principal: { type: 'agent', id: agentId }, reason: 'credential_revoked' });
      }
      return inserted;
    });
    return toView(row);
  }

  async list(principal: Principal, agentId: string, query: ListPageQuery = {}): Promise<AgentCredentialList> {
    assertAgentScope(principal, agentId, 'agents:read');
    refuseSelfAgentReach(principal, agentId, 'keys');
    const page = await this.repository.list(agentId, pageRequest(query));
    return { credentials: await Promise.all(page.rows.map(toView)), next_cursor: nextCursor(page) };
  }

  async revoke(principal: Principal, agentId: string, credentialId: string): Promise<AgentCredentialView> {
    assertAgentScope(principal, agentId, 'agents:manage', { what: 'agent credential', id: credentialId });
    if (principal.type !== 'user') {
      throw new DomainError(ErrorCode.Forbidden, "only a member of the agent can revoke the agent's key");
    }
    const row = await this.transactions.run(async (tx) => {
      const revoked = await this.repository.revoke(agentId, credentialId, tx.db);
      if (!revoked) {
        const existing = await this.repository.find(agentId, credentialId, tx.db);
        if (!existing) {
          throw DomainError.notFound('agent credential', credentialId);
        }
        return existing; // already revoked: revoking again changes nothing
      }
      await this.audit.append(tx, {
        agentId,
        action: 'agent_credential.revoked',
        actor: { type: principal.type, id: principal.id },
        subject: { type: 'agent_credential', id: credentialId },
        details: { alg: revoked.alg },
      });
      this.revocations.afterCommit(tx, { principal: { type: 'agent', id: agentId }, reason: 'credential_revoked' });
      return revoked;
    });
    return toView(row);
  }
}
