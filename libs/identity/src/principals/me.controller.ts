import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, ErrorCode, type Principal } from '@marvain/contracts';
import { Authenticated, CurrentPrincipal } from '@marvain/platform';
import { LocalUsersService, type RevokedUserTokens } from '../users/local-users.service';
import { PrincipalView } from './principals.dto';

@ApiTags('identity')
@ApiBearerAuth()
@Controller('v1/me')
export class MeController {
  constructor(private readonly users: LocalUsersService) {}

  @Get()
  @Authenticated()
  @ApiOperation({
    summary: 'Who the caller is: principal type and id, and the agents it may act for with its scopes there',
  })
  @ApiOkResponse({ type: PrincipalView })
  me(@CurrentPrincipal() principal: Principal): PrincipalView {
    return {
      type: principal.type,
      id: principal.id,
      agents: principal.agents.map((a) => ({ agent_id: a.agent_id, scopes: a.scopes })),
    };
  }

  @Post('tokens/revoke')
  @Authenticated()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke every token of the calling user, this one included; new ones must be issued (marvain token issue)',
  })
  @ApiOkResponse({
    description: '`{user_id, token_version}`: tokens issued before this version are refused from the next request on',
  })
  async revokeTokens(@CurrentPrincipal() principal: Principal): Promise<RevokedUserTokens> {
    if (principal.type !== 'user') {
      throw new DomainError(
        ErrorCode.Forbidden,
        'only a user can revoke their own tokens (devices are revoked through their agent)',
      );
    }
    return this.users.revokeTokens({ userId: principal.id }, { type: 'user', id: principal.id });
  }
}
