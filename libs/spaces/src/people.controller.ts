import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, CurrentPrincipal, ListPageQuery, RequireScope } from '@marvain/platform';
import { CreatePersonDto, PersonList, PersonView } from './people.dto';
import { PeopleService } from './people.service';

@ApiTags('people')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: '`validation_failed` with details.fields' })
@ApiNotFoundResponse({
  description: '`not_found`: no such agent, or one you are not a member of (the two answer alike)',
})
@Controller('v1/agents/:agent_id/people')
export class PeopleController {
  constructor(private readonly people: PeopleService) {}

  @Post()
  @RequireScope('spaces:manage')
  @ApiOperation({ summary: 'Record a person the agent knows (the subject of consent grants)' })
  @ApiCreatedResponse({ type: PersonView })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: CreatePersonDto,
  ): Promise<PersonView> {
    return this.people.create(principal, params.agent_id, body.display_name);
  }

  @Get()
  @RequireScope('spaces:read')
  @ApiOperation({ summary: 'List the people the agent knows, oldest first' })
  @ApiOkResponse({ type: PersonList })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: ListPageQuery,
  ): Promise<PersonList> {
    return this.people.list(principal, params.agent_id, query);
  }
}
