import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, CurrentPrincipal, ListPageQuery, RequireScope } from '@marvain/platform';
import { CreateSpaceDto, SpaceIdParams, SpaceList, SpaceView, UpdateSpaceDto } from './spaces.dto';
import { SpacesService } from './spaces.service';

const NOT_FOUND = '`not_found`: no such id, or one of an agent you are not a member of (the two answer alike)';
const CONFLICT = '`conflict` with details.reason `space_name_taken`: the agent already has a space of that name';

@ApiTags('spaces')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: '`validation_failed` with details.fields' })
@Controller('v1')
export class SpacesController {
  constructor(private readonly spaces: SpacesService) {}

  @Post('agents/:agent_id/spaces')
  @RequireScope('spaces:manage')
  @ApiOperation({ summary: 'Create a space for the agent' })
  @ApiCreatedResponse({ type: SpaceView })
  @ApiConflictResponse({ description: CONFLICT })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: CreateSpaceDto,
  ): Promise<SpaceView> {
    return this.spaces.create(principal, params.agent_id, body);
  }

  @Get('agents/:agent_id/spaces')
  @RequireScope('spaces:read')
  @ApiOperation({ summary: "List the agent's spaces, oldest first" })
  @ApiOkResponse({ type: SpaceList })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: ListPageQuery,
  ): Promise<SpaceList> {
    return this.spaces.list(principal, params.agent_id, query);
  }

  @Get('spaces/:space_id')
  @RequireScope('spaces:read')
  @ApiOperation({ summary: 'Get a space' })
  @ApiOkResponse({ type: SpaceView })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  async get(@CurrentPrincipal() principal: Principal, @Param() params: SpaceIdParams): Promise<SpaceView> {
    return this.spaces.get(principal, params.space_id);
  }

  @Patch('spaces/:space_id')
  @RequireScope('spaces:manage')
  @ApiOperation({ summary: 'Rename a space or turn its privacy mode on or off (audited)' })
  @ApiOkResponse({ type: SpaceView })
  @ApiConflictResponse({ description: CONFLICT })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param() params: SpaceIdParams,
    @Body() body: UpdateSpaceDto,
  ): Promise<SpaceView> {
    return this.spaces.update(principal, params.space_id, body);
  }
}
