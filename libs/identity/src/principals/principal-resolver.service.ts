import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, IDS, type Clock, type Ids } from '@marvain/platform';
import { peekAgentAssertion, verifyAgentAssertion, type AssertionClaims } from '../agent-credentials/agent-assertions';
import { AgentCredentialsRepository } from '../agent-credentials/agent-credentials.repository';
import { DomainError, ErrorCode, isScopeGrant, scopesOfRole, type Principal } from '@marvain/contracts';
import { hashDeviceToken, looksLikeDeviceToken, sameHash } from '../devices/device-tokens';
import { DevicesRepository } from '../devices/devices.repository';
import { UsersRepository } from '../users/users.repository';
import { USER_TOKEN_VERIFIER, type UserTokenVerifier } from '../users/user-tokens';

/** What a re-check of an earlier principal found: still the same, no longer accepted, or granting something else. */
export type PrincipalStanding = 'valid' | 'revoked' | 'changed';

/** How stale users.last_seen may get before a request refreshes it. */
export const LAST_SEEN_RESOLUTION_SECONDS = 300;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Turns a bearer credential into exactly one principal. A plain service (not tied to HTTP),
 * so the REST guard and the WebSocket `hello` share it. Every call reads the database, so a
 * revoked device or membership stops working on its very next request.
 */
@Injectable()
export class PrincipalResolver {
  constructor(
    private readonly users: UsersRepository,
    private readonly devices: DevicesRepository,
    private readonly agentCredentials: AgentCredentialsRepository,
    @Inject(USER_TOKEN_VERIFIER) private readonly userTokens: UserTokenVerifier,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(IDS) private readonly ids: Ids,
  ) {}

  async resolve(token: string): Promise<Principal> {
    if (looksLikeDeviceToken(token)) {
      return this.resolveDevice(token);
    }
    if (JWT_SHAPE.test(token)) {
      const assertion = peekAgentAssertion(token, this.clock.now());
      return assertion ? this.resolveAgent(token, assertion) : this.resolveUser(token);
    }
    throw new DomainError(ErrorCode.Unauthenticated, 'the bearer token is not a Marvain credential');
  }

  /**
   * An agent authenticates with a short-lived assertion signed by its registered key. Until a
   * delegation contract grants it more, an agent principal may only read its own record.
   */
  private async resolveAgent(token: string, assertion: AssertionClaims): Promise<Principal> {
    // Verify before anything is written: an unauthenticated request must leave no jti row.
    const key = await this.agentCredentials.activeKey(assertion.agentId);
    if (!key) {
      throw new DomainError(ErrorCode.Unauthenticated, 'agent assertion refused: the agent has no active key');
    }
    if (key.agent_disabled) {
      throw new DomainError(ErrorCode.Unauthenticated, 'agent assertion refused: the agent is disabled');
    }
    await verifyAgentAssertion(token, assertion, key, this.clock.now());
    const fresh = await this.agentCredentials.claimJti(
      assertion.agentId,
      key.credential_id,
      assertion.jti,
      assertion.expiresAt,
    );
    if (!fresh) {
      throw new DomainError(
        ErrorCode.Unauthenticated,
        'agent assertion refused: it was already used (each jti is accepted once)',
      );
    }
    return { type: 'agent', id: assertion.agentId, agents: [{ agent_id: assertion.agentId, scopes: ['agents:read'] }] };
  }

  /**
   * Re-checks a principal resolved earlier from `token` (a long-lived WebSocket connection) without
   * consuming anything: device and user tokens are resolved again (reads only), while an agent's
   * single-use assertion is not replayed; its agent must still be enabled with an active key.
   */
  async stillValid(principal: Principal, token: string): Promise<PrincipalStanding> {
    let current: Principal;
    try {
      if (principal.type === 'agent') {
        return (await this.agentCredentials.hasUsableKey(principal.id)) ? 'valid' : 'revoked';
      }
      current = principal.type === 'device' ? await this.resolveDevice(token) : await this.resolveUser(token);
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.Unauthenticated) {
        return 'revoked';
      }
      throw error;
    }
    if (current.type !== principal.type || current.id !== principal.id) {
      return 'revoked';
    }
    return sameAccess(current, principal) ? 'valid' : 'changed';
  }

  private async resolveDevice(token: string): Promise<Principal> {
    const hash = hashDeviceToken(token);
    const device = await this.devices.findCredential(hash);
    if (!device || !sameHash(device.token_hash, hash)) {
      throw new DomainError(ErrorCode.Unauthenticated, 'unknown device token');
    }
    if (device.revoked) {
      throw new DomainError(ErrorCode.Unauthenticated, 'this device has been revoked');
    }
    if (device.agent_disabled) {
      throw new DomainError(ErrorCode.Unauthenticated, "this device's agent is disabled");
    }
    return {
      type: 'device',
      id: device.device_id,
      agents: [{ agent_id: device.agent_id, scopes: device.scopes.filter(isScopeGrant) }],
    };
  }

  private async resolveUser(token: string): Promise<Principal> {
    const verified = await this.userTokens.verify(token);
    let user = await this.users.findWithMemberships(verified.subject);
    if (!user) {
      // First sight of a verified identity (a new Cognito user): link it to a user with no agents yet.
      await this.users.upsert({
        user_id: this.ids.random(),
        subject: verified.subject,
        email: verified.email,
        display_name: verified.displayName,
      });
      user = await this.users.findWithMemberships(verified.subject);
      if (!user) {
        throw new DomainError(ErrorCode.Unauthenticated, 'no Marvain user is linked to this token');
      }
    }
    // Local tokens carry the version they were issued at; revocation raised the user's since.
    if (verified.tokenVersion !== undefined && verified.tokenVersion !== user.token_version) {
      throw new DomainError(
        ErrorCode.Unauthenticated,
        'this token was revoked; issue a new one ("marvain token issue")',
      );
    }
    // last_seen is kept to the minute, not per request: a write only when it is stale.
    const stale =
      !user.last_seen || this.clock.now().getTime() - user.last_seen.getTime() > LAST_SEEN_RESOLUTION_SECONDS * 1000;
    if (stale) {
      await this.users.touchLastSeen(user.user_id, LAST_SEEN_RESOLUTION_SECONDS);
    }
    return {
      type: 'user',
      id: user.user_id,
      agents: user.memberships.map((m) => ({ agent_id: m.agent_id, scopes: scopesOfRole(m.role) })),
    };
  }
}

/** Same agents with the same scopes, in any order. */
function sameAccess(a: Principal, b: Principal): boolean {
  const key = (p: Principal): string =>
    JSON.stringify(p.agents.map((agent) => `${agent.agent_id}:${[...agent.scopes].sort().join(',')}`).sort());
  return key(a) === key(b);
}
