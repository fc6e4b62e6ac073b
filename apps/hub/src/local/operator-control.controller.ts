import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';
import { AuditService, type AuditVerification } from '@marvain/audit';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { LocalUsersService, type RevokedUserTokens } from '@marvain/identity';
import { OptionalButNotNull, Public } from '@marvain/platform';
import { LocalControlGuard } from './local-control.guard';
import { LocalUserRefDto } from './local-control.controller';

export class VerifyChainDto {
  /** An agent's chain; without it, the system chain (schema migrations, users). */
  @OptionalButNotNull() @IsUUID() agent_id?: string;
}

/**
 * Operator commands beyond first-run set-up (token revocation, audit verification), for the CLI
 * while this hub holds the embedded database, behind the same LocalControlGuard.
 */
@ApiExcludeController()
@Controller('v1/local')
@UseGuards(LocalControlGuard)
export class OperatorControlController {
  constructor(
    private readonly users: LocalUsersService,
    private readonly audit: AuditService,
  ) {}

  @Post('users/revoke-tokens')
  @Public()
  @HttpCode(200)
  async revokeTokens(@Body() body: LocalUserRefDto): Promise<RevokedUserTokens> {
    if (!body.user_id === !body.email) {
      throw new DomainError(ErrorCode.ValidationFailed, 'name the user with exactly one of user_id or email');
    }
    return this.users.revokeTokens(
      { ...(body.user_id ? { userId: body.user_id } : {}), ...(body.email ? { email: body.email } : {}) },
      { type: 'system', id: 'operator' },
    );
  }

  @Post('audit/verify')
  @Public()
  @HttpCode(200)
  async verifyAudit(@Body() body: VerifyChainDto): Promise<AuditVerification> {
    return this.audit.verify(body.agent_id ?? null);
  }
}
