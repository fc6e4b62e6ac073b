import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { Authenticated, CurrentPrincipal } from '@marvain/platform';

@ApiTags('identity')
@ApiBearerAuth()
@Controller('v1/me')
export class MeController {
  @Get()
  @Authenticated()
  @ApiOperation({ summary: 'Who the caller is: principal type and id, and the agents it may act for with its scopes there' })
  me(@CurrentPrincipal() principal: Principal): { type: string; id: string; agents: Array<{ agent_id: string; scopes: readonly string[] }> } {
    return { type: principal.type, id: principal.id, agents: principal.agents.map((a) => ({ agent_id: a.agent_id, scopes: a.scopes })) };
  }
}
