import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { IsIn, IsString, IsUUID, Length, Matches } from 'class-validator';
import { AGENT_KINDS, MEMBERSHIP_ROLES, type AgentKind, type Principal } from '@marvain/contracts';
import {
  Authenticated,
  CurrentPrincipal,
  ListPageQuery,
  OptionalButNotNull,
  PagedList,
  RequireScope,
} from '@marvain/platform';
import { AgentsService, type AgentView } from './agents.service';

const NOT_BLANK = /\S/;

export class AgentRouteParams {
  @IsUUID() agent_id!: string;
}

export class CreateAgentDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Forge' })
  @IsString()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name!: string;

  @ApiPropertyOptional({ enum: AGENT_KINDS, default: 'self' })
  @OptionalButNotNull()
  @IsIn(AGENT_KINDS)
  kind?: AgentKind;
}

export class UpdateAgentDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @OptionalButNotNull()
  @IsString()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name?: string;
}

export class AgentResponse implements AgentView {
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: AGENT_KINDS }) kind!: string;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({
    enum: MEMBERSHIP_ROLES,
    nullable: true,
    description: "The caller's role on the agent; null for a device or an agent",
  })
  role!: string | null;
}

export class AgentListResponse extends PagedList {
  @ApiProperty({ type: [AgentResponse] }) agents!: AgentResponse[];
}

@ApiTags('agents')
@ApiBearerAuth()
@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  @Authenticated()
  @ApiOperation({ summary: 'Create an agent; the calling user becomes its owner (users only)' })
  @ApiCreatedResponse({ type: AgentResponse })
  async create(@CurrentPrincipal() principal: Principal, @Body() body: CreateAgentDto): Promise<AgentView> {
    return this.agents.create(principal, { name: body.name, ...(body.kind ? { kind: body.kind } : {}) });
  }

  @Get()
  @Authenticated()
  @ApiOperation({ summary: "The agents the caller may read, oldest first, with the caller's role on each" })
  @ApiOkResponse({ type: AgentListResponse })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListPageQuery): Promise<AgentListResponse> {
    return this.agents.list(principal, query);
  }

  @Get(':agent_id')
  @RequireScope('agents:read')
  @ApiOperation({ summary: 'One agent; another agent answers 404 exactly like a missing one' })
  @ApiOkResponse({ type: AgentResponse })
  async get(@CurrentPrincipal() principal: Principal, @Param() params: AgentRouteParams): Promise<AgentView> {
    return this.agents.get(principal, params.agent_id);
  }

  @Patch(':agent_id')
  @RequireScope('agents:manage')
  @ApiOperation({ summary: 'Rename the agent (audited)' })
  @ApiOkResponse({ type: AgentResponse })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentRouteParams,
    @Body() body: UpdateAgentDto,
  ): Promise<AgentView> {
    return this.agents.update(principal, params.agent_id, body.name === undefined ? {} : { name: body.name });
  }

  @Post(':agent_id/disable')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({ summary: 'Disable the agent: its members, devices and assertions lose access at once (audited)' })
  @ApiOkResponse({ type: AgentResponse })
  async disable(@CurrentPrincipal() principal: Principal, @Param() params: AgentRouteParams): Promise<AgentView> {
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
  @ApiOkResponse({ type: AgentResponse })
  async enable(@CurrentPrincipal() principal: Principal, @Param() params: AgentRouteParams): Promise<AgentView> {
    return this.agents.enable(principal, params.agent_id);
  }
}
