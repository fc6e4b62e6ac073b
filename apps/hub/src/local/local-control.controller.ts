import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { IsEmail, IsString, IsUUID, Length } from 'class-validator';
import { BootstrapService, LocalUsersService, type BootstrapResult, type IssuedUserToken } from '@marvain/identity';
import { OptionalButNotNull, Public } from '@marvain/platform';
import { LocalControlGuard } from './local-control.guard';

export class LocalUserDto {
  @IsEmail() @Length(3, 320) email!: string;
  @OptionalButNotNull() @IsString() @Length(1, 200) display_name?: string;
}

/** One user, by id or by email. */
export class LocalUserRefDto {
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
 * process), behind LocalControlGuard.
 */
@ApiExcludeController()
@Controller('v1/local')
@UseGuards(LocalControlGuard)
export class LocalControlController {
  constructor(
    private readonly bootstrapService: BootstrapService,
    private readonly users: LocalUsersService,
  ) {}

  @Post('bootstrap')
  @Public()
  @HttpCode(201)
  async bootstrap(@Body() body: LocalBootstrapDto): Promise<BootstrapResult> {
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
  async createUser(@Body() body: LocalUserDto): Promise<IssuedUserToken> {
    return this.users.create(body.email, body.display_name ?? null);
  }

  @Post('tokens')
  @Public()
  @HttpCode(201)
  async issueToken(@Body() body: LocalUserRefDto): Promise<IssuedUserToken> {
    return this.users.issue({
      ...(body.user_id ? { userId: body.user_id } : {}),
      ...(body.email ? { email: body.email } : {}),
    });
  }
}
