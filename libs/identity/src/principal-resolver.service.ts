import { Inject, Injectable } from '@nestjs/common';
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
    @Inject(USER_TOKEN_VERIFIER) private readonly userTokens: UserTokenVerifier,
  ) {}

  async resolve(token: string): Promise<Principal> {
    if (looksLikeDeviceToken(token)) return this.resolveDevice(token);
    if (JWT_SHAPE.test(token)) return this.resolveUser(token);
    throw new DomainError(ErrorCode.Unauthenticated, 'the bearer token is not a Marvain credential');
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
