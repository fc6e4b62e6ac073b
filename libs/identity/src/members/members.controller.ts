import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, Authenticated, CurrentPrincipal, ListPageQuery, RequireScope } from '@marvain/platform';
import {
  AddMemberDto,
  ChangeMemberRoleDto,
  MemberList,
  MemberParams,
  MemberView,
  OwnershipTransferView,
  TransferOwnershipDto,
} from './members.dto';
import { MembersService } from './members.service';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/agents/:agent_id')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Get('members')
  @RequireScope('agents:read')
  @ApiOperation({ summary: "The agent's active members, oldest first" })
  @ApiOkResponse({ type: MemberList })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: ListPageQuery,
  ): Promise<MemberList> {
    return this.members.list(principal, params.agent_id, query);
  }

  @Post('members')
  @RequireScope('members:manage')
  @ApiOperation({ summary: 'Add a user as admin, member or guest (audited); never as owner' })
  @ApiCreatedResponse({ type: MemberView })
  @ApiConflictResponse({ description: '`conflict` with details.reason `already_member`' })
  async add(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: AddMemberDto,
  ): Promise<MemberView> {
    return this.members.add(principal, params.agent_id, body.user_id, body.role);
  }

  @Patch('members/:user_id')
  @RequireScope('members:manage')
  @ApiOperation({ summary: "Change a member's role (audited); the owner's role changes only by transfer" })
  @ApiOkResponse({ type: MemberView })
  @ApiConflictResponse({ description: '`conflict` with details.reason `owner_role_fixed`' })
  async changeRole(
    @CurrentPrincipal() principal: Principal,
    @Param() params: MemberParams,
    @Body() body: ChangeMemberRoleDto,
  ): Promise<MemberView> {
    return this.members.changeRole(principal, params.agent_id, params.user_id, body.role);
  }

  @Post('members/:user_id/revoke')
  @HttpCode(200)
  @RequireScope('members:manage')
  @ApiOperation({ summary: "End a member's membership (audited); the owner cannot be removed" })
  @ApiOkResponse({ type: MemberView })
  @ApiConflictResponse({ description: '`conflict` with details.reason `last_owner`' })
  async revoke(@CurrentPrincipal() principal: Principal, @Param() params: MemberParams): Promise<MemberView> {
    return this.members.revoke(principal, params.agent_id, params.user_id);
  }

  @Post('leave')
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({ summary: "End the caller's own membership (any member but the owner; audited)" })
  @ApiOkResponse({ type: MemberView })
  @ApiConflictResponse({ description: '`conflict` with details.reason `last_owner`' })
  async leave(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams): Promise<MemberView> {
    return this.members.leave(principal, params.agent_id);
  }

  @Post('transfer-ownership')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({
    summary: 'Make another active member the owner; the current owner becomes an admin (one transaction, audited)',
  })
  @ApiOkResponse({ type: OwnershipTransferView })
  @ApiConflictResponse({ description: '`conflict` with details.reason `ownership_changed` or `already_owner`' })
  async transferOwnership(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: TransferOwnershipDto,
  ): Promise<OwnershipTransferView> {
    return this.members.transferOwnership(principal, params.agent_id, body.user_id);
  }
}
