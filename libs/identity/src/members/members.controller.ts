import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import { IsIn, IsUUID } from 'class-validator';
import { MEMBERSHIP_ROLES, type Principal } from '@marvain/contracts';
import { Authenticated, CurrentPrincipal, ListPageQuery, PagedList, RequireScope } from '@marvain/platform';
import {
  GRANTABLE_ROLES,
  MembersService,
  type GrantableRole,
  type MemberView,
  type OwnershipTransferView,
} from './members.service';

const ROLE_MESSAGE = 'role must be admin, member or guest (ownership moves only through transfer-ownership)';

export class MembersRouteParams {
  @IsUUID() agent_id!: string;
}

export class MemberRouteParams {
  @IsUUID() agent_id!: string;
  @IsUUID() user_id!: string;
}

export class AddMemberDto {
  @ApiProperty({ format: 'uuid', description: 'The user to add (see GET /v1/me for your own id)' })
  @IsUUID()
  user_id!: string;

  @ApiProperty({ enum: GRANTABLE_ROLES })
  @IsIn(GRANTABLE_ROLES, { message: ROLE_MESSAGE })
  role!: GrantableRole;
}

export class ChangeMemberRoleDto {
  @ApiProperty({ enum: GRANTABLE_ROLES })
  @IsIn(GRANTABLE_ROLES, { message: ROLE_MESSAGE })
  role!: GrantableRole;
}

export class TransferOwnershipDto {
  @ApiProperty({ format: 'uuid', description: 'An active member of the agent, who becomes its owner' })
  @IsUUID()
  user_id!: string;
}

export class MemberResponse implements MemberView {
  @ApiProperty({ format: 'uuid' }) membership_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty({ enum: MEMBERSHIP_ROLES }) role!: string;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ nullable: true, type: String }) display_name!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

export class MemberListResponse extends PagedList {
  @ApiProperty({ type: [MemberResponse] }) members!: MemberResponse[];
}

export class OwnershipTransferResponse implements OwnershipTransferView {
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ type: MemberResponse }) owner!: MemberResponse;
  @ApiProperty({ type: MemberResponse, description: 'The former owner, now an admin' }) previous_owner!: MemberResponse;
}

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/agents/:agent_id')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get('members')
  @RequireScope('agents:read')
  @ApiOperation({ summary: "The agent's active members, oldest first" })
  @ApiOkResponse({ type: MemberListResponse })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: MembersRouteParams,
    @Query() query: ListPageQuery,
  ): Promise<MemberListResponse> {
    return this.members.list(principal, params.agent_id, query);
  }

  @Post('members')
  @RequireScope('members:manage')
  @ApiOperation({ summary: 'Add a user as admin, member or guest (audited); never as owner' })
  @ApiCreatedResponse({ type: MemberResponse })
  @ApiConflictResponse({ description: '`conflict` with details.reason `already_member`' })
  async add(
    @CurrentPrincipal() principal: Principal,
    @Param() params: MembersRouteParams,
    @Body() body: AddMemberDto,
  ): Promise<MemberView> {
    return this.members.add(principal, params.agent_id, body.user_id, body.role);
  }

  @Patch('members/:user_id')
  @RequireScope('members:manage')
  @ApiOperation({ summary: "Change a member's role (audited); the owner's role changes only by transfer" })
  @ApiOkResponse({ type: MemberResponse })
  @ApiConflictResponse({ description: '`conflict` with details.reason `owner_role_fixed`' })
  async changeRole(
    @CurrentPrincipal() principal: Principal,
    @Param() params: MemberRouteParams,
    @Body() body: ChangeMemberRoleDto,
  ): Promise<MemberView> {
    return this.members.changeRole(principal, params.agent_id, params.user_id, body.role);
  }

  @Post('members/:user_id/revoke')
  @HttpCode(200)
  @RequireScope('members:manage')
  @ApiOperation({ summary: "End a member's membership (audited); the owner cannot be removed" })
  @ApiOkResponse({ type: MemberResponse })
  @ApiConflictResponse({ description: '`conflict` with details.reason `last_owner`' })
  async revoke(@CurrentPrincipal() principal: Principal, @Param() params: MemberRouteParams): Promise<MemberView> {
    return this.members.revoke(principal, params.agent_id, params.user_id);
  }

  @Post('leave')
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({ summary: "End the caller's own membership (any member but the owner; audited)" })
  @ApiOkResponse({ type: MemberResponse })
  @ApiConflictResponse({ description: '`conflict` with details.reason `last_owner`' })
  async leave(@CurrentPrincipal() principal: Principal, @Param() params: MembersRouteParams): Promise<MemberView> {
    return this.members.leave(principal, params.agent_id);
  }

  @Post('transfer-ownership')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({
    summary: 'Make another active member the owner; the current owner becomes an admin (one transaction, audited)',
  })
  @ApiOkResponse({ type: OwnershipTransferResponse })
  @ApiConflictResponse({ description: '`conflict` with details.reason `ownership_changed` or `already_owner`' })
  async transferOwnership(
    @CurrentPrincipal() principal: Principal,
    @Param() params: MembersRouteParams,
    @Body() body: TransferOwnershipDto,
  ): Promise<OwnershipTransferView> {
    return this.members.transferOwnership(principal, params.agent_id, body.user_id);
  }
}
