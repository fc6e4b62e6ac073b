import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { DeviceIdParams } from '@marvain/identity';
import { CurrentPrincipal, RequireScope } from '@marvain/platform';
import {
  CreateCommandDto,
  DeviceCommandList,
  DeviceCommandParams,
  DeviceCommandView,
  ListCommandsQuery,
} from './commands.dto';
import { CommandsService } from './commands.service';

@ApiTags('devices')
@ApiBearerAuth()
@Controller()
export class CommandsController {
  constructor(private readonly commands: CommandsService) {}

  @Post('v1/devices/:device_id/commands')
  @RequireScope('devices:command')
  @ApiOperation({
    summary:
      'Send a command to a device: delivered now when it is connected, else after its next hello, until ttl_seconds pass. 409 for a revoked device',
  })
  @ApiCreatedResponse({ type: DeviceCommandView })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceIdParams,
    @Body() body: CreateCommandDto,
  ): Promise<DeviceCommandView> {
    return this.commands.create(principal, params.device_id, body);
  }

  @Get('v1/devices/:device_id/commands')
  @RequireScope('devices:command')
  @ApiOperation({ summary: "List a device's commands, newest first" })
  @ApiOkResponse({ type: DeviceCommandList })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceIdParams,
    @Query() query: ListCommandsQuery,
  ): Promise<DeviceCommandList> {
    return this.commands.list(principal, params.device_id, query);
  }

  @Get('v1/devices/:device_id/commands/:command_id')
  @RequireScope('devices:command')
  @ApiOperation({ summary: 'One command of a device: its status, result or error' })
  @ApiOkResponse({ type: DeviceCommandView })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceCommandParams,
  ): Promise<DeviceCommandView> {
    return this.commands.get(principal, params.device_id, params.command_id);
  }
}
