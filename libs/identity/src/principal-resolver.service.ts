import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@marvain/platform';
import { peekAgentAssertion, verifyAgentAssertion, type AssertionClaims } from './agent-assertions';
import { AgentCredentialsRepository } from './agent-credentials.repository';
import { DomainError, ErrorCode, isScopeGrant, scopesOfRole, type Principal } from '@marvain/contracts';
import { hashDeviceToken, looksLikeDeviceToken, sameHash } from './device-tokens';
import { IdentityRepository } from './identity.repository';
import { USER_TOKEN_VERIFIER, type UserTokenVerifier } from './user-tokens';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Turns a bearer credential into exactly one principal. A plain service (not tied to HTTP),
 * so the REST guard and the WebSocket `hello` share it. Every call reads the database, so a
 * revoked device or membership stops working on its very next request.
 */
@Injectable()
export class PrincipalResolver {
  constructor(
    private readonly repository: IdentityRepository,
    private readonly agentCredentials: AgentCredentialsRepository,
    @Inject(USER_TOKEN_VERIFIER) private readonly userTokens: UserTokenVerifier,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async resolve(token: string): Promise<Principal> {
    if (looksLikeDeviceToken(token)) return this.resolveDevice(token);
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
    const claim = await this.agentCredentials.claimAssertion(assertion.agentId, assertion.jti, assertion.expiresAt);
    if (!claim) throw new DomainError(ErrorCode.Unauthenticated, 'agent assertion refused: the agent has no active key');
    if (claim.agent_disabled) throw new DomainError(ErrorCode.Unauthenticated, 'agent assertion refused: the agent is disabled');
    if (!claim.fresh) throw new DomainError(ErrorCode.Unauthenticated, 'agent assertion refused: it was already used (each jti is accepted once)');
    await verifyAgentAssertion(token, assertion, claim, this.clock.now());
    return { type: 'agent', id: assertion.agentId, agents: [{ agent_id: assertion.agentId, scopes: ['agents:read'] }] };
  }

  private async resolveDevice(token: string): Promise<Principal> {
    const hash = hashDeviceToken(token);
    const device = await this.repository.findDeviceCredential(hash);
    if (!device || !sameHash(device.token_hash, hash)) throw new DomainError(ErrorCode.Unauthenticated, 'unknown device token');
    if (device.revoked) throw new DomainError(ErrorCode.Unauthenticated, 'this device has been revoked');
    if (device.agent_disabled) throw new DomainError(ErrorCode.Unauthenticated, "this device's agent is disabled");
    return { type: 'device', id: device.device_id, agents: [{ agent_id: device.agent_id, scopes: device.scopes.filter(isScopeGrant) }] };
  }

  private async resolveUser(token: string): Promise<Principal> {
    const verified = await this.userTokens.verify(token);
    const user = await this.repository.findUserWithMemberships(verified.subject);
    if (!user) throw new DomainError(ErrorCode.Unauthenticated, 'no Marvain user is linked to this token');
    return {
      type: 'user',
      id: user.user_id,
      agents: user.memberships.map((m) => ({ agent_id: m.agent_id, scopes: scopesOfRole(m.role) })),
    };
  }
}
