import { Injectable } from '@nestjs/common';
import type { Principal } from '@marvain/contracts';
import type { Tx } from '@marvain/db';
import { LoggerFactory, type HubLogger } from '@marvain/platform';

/**
 * What changed about a principal's access, announced so that long-lived connections (the local
 * WebSocket server) end now instead of at their next request.
 * - `credential_revoked`: the credential is no longer accepted (device revoked or its token
 *   rotated, an agent's key revoked, a user's tokens revoked, an agent disabled).
 * - `access_changed`: the credential still works but grants something else (a membership ended
 *   or changed role); the client may say hello again.
 */
export type RevocationReason = 'credential_revoked' | 'access_changed';

export interface PrincipalRevocation {
  /** The principal itself. */
  principal?: { type: Principal['type']; id: string };
  /** Every principal acting for this agent: its devices, the agent itself, its members. */
  agentId?: string;
  reason: RevocationReason;
}

/** May return a promise (the AWS runtime closes API Gateway connections): the announcement waits for it. */
export type RevocationListener = (revocation: PrincipalRevocation) => void | Promise<void>;

/**
 * An in-process notice board for revocations. Services announce a change only once its
 * transaction commits (a rolled-back revoke must not disconnect anyone); a listener's failure is
 * logged, never the change's. The announcement waits for asynchronous listeners, so a Lambda's
 * response (sent after the commit's callbacks) follows their work instead of freezing it.
 */
@Injectable()
export class PrincipalRevocations {
  private readonly logger: HubLogger;
  private readonly listeners = new Set<RevocationListener>();

  constructor(logs: LoggerFactory) {
    this.logger = logs.forContext('PrincipalRevocations');
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Announces the revocation once `tx` has committed. */
  afterCommit(tx: Tx, revocation: PrincipalRevocation): void {
    tx.afterCommit(() => this.announce(revocation));
  }

  /** Announces now: for changes that are already durable. Every listener starts at once. */
  async announce(revocation: PrincipalRevocation): Promise<void> {
    const pending: Array<Promise<void>> = [];
    for (const listener of this.listeners) {
      try {
        const result = listener(revocation);
        if (result) {
          pending.push(result.catch((error: unknown) => this.failed(error)));
        }
      } catch (error) {
        this.failed(error);
      }
    }
    await Promise.all(pending);
  }

  private failed(error: unknown): void {
    this.logger.warn(`a revocation listener failed: ${String(error)}`);
  }
}

/** Whether a revocation concerns this principal. */
export function revocationConcerns(revocation: PrincipalRevocation, principal: Principal): boolean {
  if (
    revocation.principal &&
    revocation.principal.type === principal.type &&
    revocation.principal.id === principal.id
  ) {
    return true;
  }
  return revocation.agentId !== undefined && principal.agents.some((agent) => agent.agent_id === revocation.agentId);
}
