import { Injectable } from '@nestjs/common';
import { scopesOfRole, type Scope } from '@marvain/contracts';
import { MembersRepository } from '../members/members.repository';

/** What a user may do on an agent right now (read fresh, so revocations apply at once). */
@Injectable()
export class AccessService {
  constructor(private readonly members: MembersRepository) {}

  async userScopes(userId: string, agentId: string): Promise<readonly Scope[]> {
    const role = await this.members.activeRole(agentId, userId);
    return role ? scopesOfRole(role) : [];
  }
}
