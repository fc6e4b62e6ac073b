import { timingSafeEqual } from 'node:crypto';
import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsEmail, IsUUID } from 'class-validator';
import { AuditService, type AuditVerification } from '@marvain/audit';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { LocalUsersService, type RevokedUserTokens } from '@marvain/identity';
import { OptionalButNotNull, Public } from '@marvain/platform';
import { LOCAL_CONTROL_SECRET } from '../local-control.token';

export class RevokeUserTokensDto {
  @OptionalButNotNull() @IsUUID() user_id?: string;
  @OptionalButNotNull() @IsEmail() email?: string;
}

export class VerifyChainDto {
  /** An agent's chain; without it, the system chain (schema migrations, users). */
  @OptionalButNotNull() @IsUUID() agent_id?: string;
}

/**
 * Operator commands beyond first-run set-up (token revocation, audit verification), for the CLI
 * while this hub holds the embedded database. Same guard as LocalControlController: the secret
 * in the hub's lock file, readable only by the operator.
 */
@ApiExcludeController()
@Controller('v1/local')
export class OperatorControlController {
  constructor(
    private readonly users: LocalUsersService,
    private readonly audit: AuditService,
    @Inject(LOCAL_CONTROL_SECRET) private readonly secret: string | null,
  ) {}

  @Post('users/revoke-tokens')
  @Public()
  @HttpCode(200)
  async revokeTokens(@Headers('x-marvain-control') presented: string | undefined, @Body() body: RevokeUserTokensDto): Promise<RevokedUserTokens> {
    this.checkSecret(presented);
    if (!body.user_id === !body.email) throw new DomainError(ErrorCode.ValidationFailed, 'name the user with exactly one of user_id or email');
    return this.users.revokeTokens({ ...(body.user_id ? { userId: body.user_id } : {}), ...(body.email ? { email: body.email } : {}) }, { type: 'system', id: 'operator' });
  }

  @Post('audit/verify')
  @Public()
  @HttpCode(200)
  async verifyAudit(@Headers('x-marvain-control') presented: string | undefined, @Body() body: VerifyChainDto): Promise<AuditVerification> {
    this.checkSecret(presented);
    return this.audit.verify(body.agent_id ?? null);
  }

  private checkSecret(presented: string | undefined): void {
    const expected = Buffer.from(this.secret ?? '');
    const given = Buffer.from(presented ?? '');
    if (!this.secret || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new DomainError(ErrorCode.Unauthenticated, 'the local control secret is missing or wrong');
    }
  }
}
