import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, RequireScope } from '@marvain/platform';
import { ActionIdParams, ActionList, ActionView, ListActionsQuery, RejectActionDto } from './actions.dto';
import { ActionsService } from './actions.service';

@ApiTags('actions')
@ApiBearerAuth()
@Controller('v1/actions')
export class ActionsController {
  constructor(private readonly actions: ActionsService) {}

  @Get()
  @RequireScope('actions:read')
  @ApiOperation({ summary: "List an agent's actions, newest first, optionally by status" })
  @ApiOkResponse({ type: ActionList })
  async list(@CurrentPrincipal() principal: Principal, @Query() query: ListActionsQuery): Promise<ActionList> {
    return this.actions.list(principal, query);
  }

  @Get(':id')
  @RequireScope('actions:read')
  @ApiOkResponse({ type: ActionView })
  async get(@CurrentPrincipal() principal: Principal, @Param() params: ActionIdParams): Promise<ActionView> {
    return this.actions.get(principal, params.id);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @RequireScope('actions:approve')
  @ApiOperation({ summary: 'Approve a proposed action; the tool runner executes it' })
  @ApiOkResponse({ type: ActionView })
  @ApiConflictResponse({ description: '`action_invalid_transition` when the action is not proposed' })
  async approve(@CurrentPrincipal() principal: Principal, @Param() params: ActionIdParams): Promise<ActionView> {
    return this.actions.approve(principal, params.id);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @RequireScope('actions:approve')
  @ApiOperation({ summary: 'Reject a proposed action' })
  @ApiBody({ type: RejectActionDto, required: false })
  @ApiOkResponse({ type: ActionView })
  @ApiConflictResponse({ description: '`action_invalid_transition` when the action is not proposed' })
  async reject(
    @CurrentPrincipal() principal: Principal,
    @Param() params: ActionIdParams,
    @Body() body: RejectActionDto,
  ): Promise<ActionView> {
    return this.actions.reject(principal, params.id, body.reason);
  }
}
