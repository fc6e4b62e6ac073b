import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, CurrentPrincipal, ListPageQuery, RequireScope } from '@marvain/platform';
import {
  AgentCredentialList,
  AgentCredentialParams,
  AgentCredentialView,
  RegisterAgentCredentialDto,
} from './agent-credentials.dto';
import { AgentCredentialsService } from './agent-credentials.service';

@ApiTags('agent credentials')
@ApiBearerAuth()
@Controller('v1/agents/:agent_id/credentials')
export class AgentCredentialsController {
  constructor(private readonly credentials: AgentCredentialsService) {}

  @Post()
  @RequireScope('agents:manage')
  @ApiOperation({ summary: 'Register (or replace) the public key the agent signs its assertions with' })
  @ApiCreatedResponse({ type: AgentCredentialView })
  async register(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: RegisterAgentCredentialDto,
  ): Promise<AgentCredentialView> {
    return this.credentials.register(principal, params.agent_id, body.alg, body.public_key);
  }

  @Get()
  @RequireScope('agents:read')
  @ApiOperation({ summary: "List the agent's keys, newest first, revoked ones included" })
  @ApiOkResponse({ type: AgentCredentialList })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: ListPageQuery,
  ): Promise<AgentCredentialList> {
    return this.credentials.list(principal, params.agent_id, query);
  }

  @Post(':credential_id/revoke')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({ summary: "Revoke the agent's key; its assertions stop working at once" })
  @ApiOkResponse({ type: AgentCredentialView })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentCredentialParams,
  ): Promise<AgentCredentialView> {
    return this.credentials.revoke(principal, params.agent_id, params.credential_id);
  }
}
