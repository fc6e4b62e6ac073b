import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, Authenticated, CurrentPrincipal, ListPageQuery, RequireScope } from '@marvain/platform';
import { AgentList, AgentView, CreateAgentDto, UpdateAgentDto } from './agents.dto';
import { AgentsService } from './agents.service';

@ApiTags('agents')
@ApiBearerAuth()
@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  @Authenticated()
  @ApiOperation({ summary: 'Create an agent; the calling user becomes its owner (users only)' })
  @ApiCreatedResponse({ type: AgentView })
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateAgentDto): Promise<AgentView> {
    return this.agents.create(principal, { name: body.name, ...(body.kind ? { kind: body.kind } : {}) });
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: "The agents the caller may read, oldest first, with the caller's role on each" })
  @ApiOkResponse({ type: AgentList })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListPageQuery): Promise<AgentList> {
    return this.agents.list(principal, query);
  }

  @Get(':agent_id')
  @RequireScope('agents:read')
  @ApiOperation({ summary: 'One agent; another agent answers 404 exactly like a missing one' })
  @ApiOkResponse({ type: AgentView })
  async get(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams): Promise<AgentView> {
    return this.agents.get(principal, params.agent_id);
  }

  @Patch(':agent_id')
  @RequireScope('agents:manage')
  @ApiOperation({ summary: 'Rename the agent (audited)' })
  @ApiOkResponse({ type: AgentView })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: UpdateAgentDto,
  ): Promise<AgentView> {
    return this.agents.update(principal, params.agent_id, body.name === undefined ? {} : { name: body.name });
  }

  @Post(':agent_id/disable')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({ summary: 'Disable the agent: its members, devices and assertions lose access at once (audited)' })
  @ApiOkResponse({ type: AgentView })
  async disable(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams): Promise<AgentView> {
    return this.agents.disable(principal, params.agent_id);
  }

  // Not @RequireScope('agents:manage'): a disabled agent grants its owner no scopes (the resolver
  // leaves it out), so the guard would refuse the one caller this route is for. The service
  // checks the caller's membership and role instead, exactly as strictly as disable.
  @Post(':agent_id/enable')
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({
    summary:
      'Enable a disabled agent again, owner only: its members, devices and key regain access (audited; idempotent)',
  })
  @ApiOkResponse({ type: AgentView })
  async enable(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams): Promise<AgentView> {
    return this.agents.enable(principal, params.agent_id);
  }
}
