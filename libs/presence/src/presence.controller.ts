import { Controller, Get, Param } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, CurrentPrincipal, RequireScope } from '@marvain/platform';
import { SpaceIdParams } from '@marvain/spaces';
import { PresenceList } from './presence.dto';
import { PresenceService } from './presence.service';

const NOT_FOUND = '`not_found`: no such id, or one of an agent you are not a member of (the two answer alike)';

@ApiTags('presence')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: '`validation_failed` with details.fields' })
@Controller('v1')
export class PresenceController {
  constructor(private readonly presence: PresenceService) {}

  @Get('agents/:agent_id/presence')
  @RequireScope('spaces:read')
  @ApiOperation({
    summary: 'Who is present with the agent: users, devices and agents, in its spaces or in none (space_id null)',
  })
  @ApiOkResponse({ type: PresenceList })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  async listForAgent(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams): Promise<PresenceList> {
    return { presence: await this.presence.list(principal, params.agent_id) };
  }

  @Get('spaces/:space_id/presence')
  @RequireScope('spaces:read')
  @ApiOperation({ summary: 'Who is present in the space' })
  @ApiOkResponse({ type: PresenceList })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  async listForSpace(@CurrentPrincipal() principal: Principal, @Param() params: SpaceIdParams): Promise<PresenceList> {
    return { presence: await this.presence.listForSpace(principal, params.space_id) };
  }
}
