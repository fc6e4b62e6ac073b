import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { AgentIdParams, CurrentPrincipal, ListPageQuery, RequireScope } from '@marvain/platform';
import {
  DeviceIdParams,
  DeviceList,
  DeviceView,
  DeviceWithTokenView,
  HeartbeatDto,
  HeartbeatView,
  RegisterDeviceDto,
} from './devices.dto';
import { DevicesService } from './devices.service';

@ApiTags('devices')
@ApiBearerAuth()
@Controller()
export class DevicesController {
  constructor(private readonly devices: DevicesService) {}

  @Post('v1/agents/:agent_id/devices')
  @RequireScope('devices:manage')
  @ApiOperation({ summary: 'Register a device (satellite or remote); its token is returned once and never again' })
  @ApiCreatedResponse({ type: DeviceWithTokenView })
  async register(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: RegisterDeviceDto,
  ): Promise<DeviceWithTokenView> {
    return this.devices.register(principal, params.agent_id, body);
  }

  @Get('v1/agents/:agent_id/devices')
  @RequireScope('devices:manage')
  @ApiOperation({ summary: "List the agent's devices, newest first, revoked ones included (never their tokens)" })
  @ApiOkResponse({ type: DeviceList })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: ListPageQuery,
  ): Promise<DeviceList> {
    return this.devices.list(principal, params.agent_id, query);
  }

  @Post('v1/devices/heartbeat')
  @HttpCode(200)
  @RequireScope('presence:write')
  @ApiOperation({
    summary:
      "A device's heartbeat: stamps last_heartbeat_at and, with space_id, its presence there (device token only)",
  })
  @ApiBody({ type: HeartbeatDto, required: false })
  @ApiOkResponse({ type: HeartbeatView })
  async heartbeat(@CurrentPrincipal() principal: Principal, @Body() body: HeartbeatDto): Promise<HeartbeatView> {
    return this.devices.heartbeat(principal, body);
  }

  @Get('v1/devices/:device_id')
  @RequireScope('devices:manage')
  @ApiOperation({ summary: 'One device (never its token)' })
  @ApiOkResponse({ type: DeviceView })
  async get(@CurrentPrincipal() principal: Principal, @Param() params: DeviceIdParams): Promise<DeviceView> {
    return this.devices.get(principal, params.device_id);
  }

  @Post('v1/devices/:device_id/revoke')
  @HttpCode(200)
  @RequireScope('devices:manage')
  @ApiOperation({ summary: 'Revoke a device: its next request is refused; revoking again changes nothing' })
  @ApiOkResponse({ type: DeviceView })
  async revoke(@CurrentPrincipal() principal: Principal, @Param() params: DeviceIdParams): Promise<DeviceView> {
    return this.devices.revoke(principal, params.device_id);
  }

  @Post('v1/devices/:device_id/rotate-token')
  @HttpCode(200)
  @RequireScope('devices:manage')
  @ApiOperation({
    summary: 'Issue a new device token, returned once; the old one stops working at once. 409 for a revoked device',
  })
  @ApiOkResponse({ type: DeviceWithTokenView })
  async rotateToken(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceIdParams,
  ): Promise<DeviceWithTokenView> {
    return this.devices.rotateToken(principal, params.device_id);
  }
}
