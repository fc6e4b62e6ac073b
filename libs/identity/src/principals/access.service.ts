import { Injectable } from '@nestjs/common';
import { scopesOfRole, type Scope } from '@marvain/contracts';
import { IdentityRepository } from '../identity.repository';

/** What a user may do on an agent right now (read fresh, so revocations apply at once). */
@Injectable()
export class AccessService {
  constructor(private readonly repository: IdentityRepository) {}

  async userScopes(userId: string, agentId: string): Promise<readonly Scope[]> {
    const role = await this.repository.activeRole(userId, agentId);
    return role ? scopesOfRole(role) : [];
  }
}
