import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WsCloseCode, type Principal } from '@marvain/contracts';
import { PrincipalRevocations, revocationConcerns, type PrincipalRevocation } from '@marvain/identity';
import { LoggerFactory, type HubLogger } from '@marvain/platform';
import { CONNECTION_PUSH, type ConnectionPush } from './connection-push';
import { CONNECTION_STORE, type ConnectionStore } from './connection-store';

/**
 * The AWS runtime's answer to a revocation: the function that committed it (http: a device
 * revoked, a membership ended, an agent disabled) closes the live API Gateway connections it
 * concerns, found in the connection store, as the local server closes its sockets.
 * - A principal's own revocation: its connections, through the principal index.
 * - An agent's (disabled): the connections subscribed to it. A connection of one of its
 *   principals that subscribed to nothing is not found (the store indexes subscriptions and
 *   principals, not every agent a principal holds), and stays open until it closes or expires.
 */
@Injectable()
export class StoredRevocations implements OnModuleInit, OnModuleDestroy {
  private readonly logger: HubLogger;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly revocations: PrincipalRevocations,
    @Inject(CONNECTION_STORE) private readonly store: ConnectionStore,
    @Inject(CONNECTION_PUSH) private readonly push: ConnectionPush,
    logs: LoggerFactory,
  ) {
    this.logger = logs.forContext('Revocations');
  }

  onModuleInit(): void {
    this.unsubscribe = this.revocations.subscribe((revocation) => this.closeConcerned(revocation));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Closes every live connection the revocation concerns; one failed close does not stop the rest. */
  async closeConcerned(revocation: PrincipalRevocation): Promise<void> {
    const concerned = new Map<string, Pick<Principal, 'type' | 'id'>>();
    if (revocation.principal) {
      for (const connectionId of await this.store.listByPrincipal(revocation.principal)) {
        concerned.set(connectionId, revocation.principal);
      }
    }
    if (revocation.agentId) {
      for (const subscriber of await this.store.listSubscribers(revocation.agentId)) {
        if (revocationConcerns(revocation, subscriber.principal)) {
          concerned.set(subscriber.connection_id, subscriber.principal);
        }
      }
    }
    await Promise.all(
      [...concerned].map(async ([connectionId, principal]) => {
        const [code, reason] = closeFor(revocation, principal);
        try {
          await this.push.close(connectionId, code, reason);
        } catch (error) {
          this.logger.warn(`could not close ${connectionId} after a revocation: ${String(error)}`);
        }
      }),
    );
  }
}

/** As the local server closes: a user who loses one agent keeps their token, and may say hello again. */
function closeFor(revocation: PrincipalRevocation, principal: Pick<Principal, 'type' | 'id'>): [WsCloseCode, string] {
  const own = revocation.principal?.type === principal.type && revocation.principal.id === principal.id;
  return revocation.reason === 'credential_revoked' && (own || principal.type !== 'user')
    ? [WsCloseCode.Unauthenticated, 'the credential is no longer accepted']
    : [WsCloseCode.AccessChanged, 'access changed; send hello again'];
}
