import { timingSafeEqual } from 'node:crypto';
import { Body, Controller, Headers, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsEmail, IsString, IsUUID, Length } from 'class-validator';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { BootstrapService, LocalUsersService, type BootstrapResult, type IssuedUserToken } from '@marvain/identity';
import { CLOCK, CONTROL_DEADLINE_HEADER, OptionalButNotNull, Public, type Clock } from '@marvain/platform';
import { LOCAL_CONTROL_SECRET } from '../local-control.token';

export class LocalUserDto {
  @IsEmail() @Length(3, 320) email!: string;
  @OptionalButNotNull() @IsString() @Length(1, 200) display_name?: string;
}

export class LocalTokenDto {
  @OptionalButNotNull() @IsUUID() user_id?: string;
  @OptionalButNotNull() @IsEmail() email?: string;
}

export class LocalBootstrapDto {
  @IsString() @Length(1, 200) agent_name!: string;
  @IsString() @Length(1, 200) space_name!: string;
  @OptionalButNotNull() @IsUUID() owner_user_id?: string;
  @OptionalButNotNull() @IsEmail() owner_email?: string;
}

/**
 * Operator commands for the CLI while this hub holds the embedded database (PGlite allows one
 * process). Guarded by a secret in the hub's lock file, readable only by the operator.
 */
@ApiExcludeController()
@Controller('v1/local')
export class LocalControlController {
  constructor(
    private readonly bootstrapService: BootstrapService,
    private readonly users: LocalUsersService,
    @Inject(LOCAL_CONTROL_SECRET) private readonly secret: string | null,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Post('bootstrap')
  @Public()
  @HttpCode(201)
  async bootstrap(@Headers('x-marvain-control') presented: string | undefined, @Headers(CONTROL_DEADLINE_HEADER) deadline: string | undefined, @Body() body: LocalBootstrapDto): Promise<BootstrapResult> {
    this.checkSecret(presented);
    this.checkDeadline(deadline);
    return this.bootstrapService.bootstrap({
      agentName: body.agent_name,
      spaceName: body.space_name,
      ...(body.owner_user_id ? { ownerUserId: body.owner_user_id } : {}),
      ...(body.owner_email ? { ownerEmail: body.owner_email } : {}),
    });
  }

  @Post('users')
  @Public()
  @HttpCode(201)
  async createUser(@Headers('x-marvain-control') presented: string | undefined, @Headers(CONTROL_DEADLINE_HEADER) deadline: string | undefined, @Body() body: LocalUserDto): Promise<IssuedUserToken> {
    this.checkSecret(presented);
    this.checkDeadline(deadline);
    return this.users.create(body.email, body.display_name ?? null);
  }

  @Post('tokens')
  @Public()
  @HttpCode(201)
  async issueToken(@Headers('x-marvain-control') presented: string | undefined, @Headers(CONTROL_DEADLINE_HEADER) deadline: string | undefined, @Body() body: LocalTokenDto): Promise<IssuedUserToken> {
    this.checkSecret(presented);
    this.checkDeadline(deadline);
    return this.users.issue({ ...(body.user_id ? { userId: body.user_id } : {}), ...(body.email ? { email: body.email } : {}) });
  }

  /** Checked before acting: a request the CLI already gave up on does nothing. No header, no deadline (curl, older CLIs). */
  private checkDeadline(header: string | undefined): void {
    if (header === undefined) return;
    if (!/^\d{1,15}$/.test(header)) throw new DomainError(ErrorCode.ValidationFailed, `${CONTROL_DEADLINE_HEADER} must be milliseconds since the epoch`);
    const late = this.clock.now().getTime() - Number(header);
    if (late >= 0) {
      throw new DomainError(ErrorCode.DeadlineExceeded, `the request reached the hub ${late} ms after its deadline, so nothing was done; the client had already given up`);
    }
  }

  private checkSecret(presented: string | undefined): void {
    const expected = Buffer.from(this.secret ?? '');
    const given = Buffer.from(presented ?? '');
    if (!this.secret || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new DomainError(ErrorCode.Unauthenticated, 'the local control secret is missing or wrong');
    }
  }
}
