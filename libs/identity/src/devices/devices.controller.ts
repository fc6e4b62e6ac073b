import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsString,
  IsUUID,
  Length,
  Matches,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { DEFAULT_DEVICE_SCOPES, isScopeGrant, SCOPES, type Principal } from '@marvain/contracts';
import {
  CurrentPrincipal,
  ListPageQuery,
  nestsDeeperThan,
  OptionalButNotNull,
  PagedList,
  RequireScope,
} from '@marvain/platform';
import {
  DevicesService,
  HEARTBEAT_STATUSES,
  type DeviceView,
  type DeviceWithToken,
  type HeartbeatStatus,
} from './devices.service';

/** Bounds for the free-form JSON a device carries: serialized size and nesting depth. */
export const DEVICE_JSON_MAX_BYTES = 8192;
export const DEVICE_JSON_MAX_DEPTH = 16;

/** A plain JSON object (not an array or null) of bounded size and depth. */
function IsBoundedJsonObject(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isBoundedJsonObject',
      validator: {
        validate: (value: unknown): boolean =>
          value !== null &&
          typeof value === 'object' &&
          !Array.isArray(value) &&
          !nestsDeeperThan(value, DEVICE_JSON_MAX_DEPTH) &&
          Buffer.byteLength(JSON.stringify(value), 'utf8') <= DEVICE_JSON_MAX_BYTES,
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} must be a JSON object of at most ${DEVICE_JSON_MAX_BYTES} bytes nested at most ${DEVICE_JSON_MAX_DEPTH} deep`,
      },
    },
    options,
  );
}

/** `metadata.is_remote`, when present, is a boolean (it marks a remote satellite). */
function HasBooleanIsRemote(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'hasBooleanIsRemote',
      validator: {
        validate: (value: unknown): boolean =>
          value === null ||
          typeof value !== 'object' ||
          !('is_remote' in value) ||
          typeof value.is_remote === 'boolean',
        defaultMessage: () => 'metadata.is_remote must be a boolean',
      },
    },
    options,
  );
}

/** Each element is a registered scope or a `resource:*` wildcard of a registered resource. */
function IsScopeGrant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isScopeGrant',
      validator: {
        validate: (value: unknown): boolean => typeof value === 'string' && isScopeGrant(value),
        defaultMessage: () => 'each scope must be a registered scope (resource:verb) or resource:*',
      },
    },
    options,
  );
}

export class DeviceAgentParams {
  @IsUUID() agent_id!: string;
}

export class DeviceIdParams {
  @IsUUID() device_id!: string;
}

export class RegisterDeviceDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'kitchen satellite' })
  @IsString()
  @Length(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name!: string;

  @ApiPropertyOptional({
    type: [String],
    default: DEFAULT_DEVICE_SCOPES,
    description: 'Registered scopes or `resource:*`; only scopes the caller holds on the agent may be granted',
  })
  @OptionalButNotNull()
  @IsArray()
  @ArrayMaxSize(SCOPES.length * 2)
  @IsScopeGrant({ each: true })
  scopes?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { audio: true, display: false } })
  @OptionalButNotNull()
  @IsBoundedJsonObject()
  capabilities?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { is_remote: true, location: 'garage' },
    description: '`is_remote: true` marks a remote satellite',
  })
  @OptionalButNotNull()
  @IsBoundedJsonObject()
  @HasBooleanIsRemote()
  metadata?: Record<string, unknown>;
}

export class HeartbeatDto {
  @ApiPropertyOptional({
    format: 'uuid',
    description: "A space of the device's agent; its presence there is refreshed",
  })
  @OptionalButNotNull()
  @IsUUID()
  space_id?: string;

  @ApiPropertyOptional({ enum: HEARTBEAT_STATUSES, default: 'online' })
  @OptionalButNotNull()
  @IsIn(HEARTBEAT_STATUSES)
  status?: HeartbeatStatus;
}

export class DeviceViewDto implements DeviceView {
  @ApiProperty({ format: 'uuid' }) device_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) capabilities!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ description: 'metadata.is_remote === true' }) is_remote!: boolean;
  @ApiProperty() created_at!: string;
  @ApiProperty({ nullable: true }) revoked_at!: string | null;
  @ApiProperty({ nullable: true }) last_hello_at!: string | null;
  @ApiProperty({ nullable: true }) last_heartbeat_at!: string | null;
}

export class DeviceWithTokenDto implements DeviceWithToken {
  @ApiProperty({ type: DeviceViewDto }) device!: DeviceViewDto;
  @ApiProperty({ description: 'The device token. Shown only in this response: the hub stores just its SHA-256 hash' })
  token!: string;
}

export class DeviceListDto extends PagedList {
  @ApiProperty({ type: [DeviceViewDto] }) devices!: DeviceViewDto[];
}

export class HeartbeatResponseDto {
  @ApiProperty({ format: 'uuid' }) device_id!: string;
  @ApiProperty() last_heartbeat_at!: string;
}

@ApiTags('devices')
@ApiBearerAuth()
@Controller()
export class DevicesController {
  constructor(private readonly devices: DevicesService) {}

  @Post('v1/agents/:agent_id/devices')
  @RequireScope('devices:manage')
  @ApiOperation({ summary: 'Register a device (satellite or remote); its token is returned once and never again' })
  @ApiCreatedResponse({ type: DeviceWithTokenDto })
  async register(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceAgentParams,
    @Body() body: RegisterDeviceDto,
  ): Promise<DeviceWithToken> {
    return this.devices.register(principal, params.agent_id, body);
  }

  @Get('v1/agents/:agent_id/devices')
  @RequireScope('devices:manage')
  @ApiOperation({ summary: "List the agent's devices, newest first, revoked ones included (never their tokens)" })
  @ApiOkResponse({ type: DeviceListDto })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceAgentParams,
    @Query() query: ListPageQuery,
  ): Promise<DeviceListDto> {
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
  @ApiOkResponse({ type: HeartbeatResponseDto })
  async heartbeat(@CurrentPrincipal() principal: Principal, @Body() body: HeartbeatDto): Promise<HeartbeatResponseDto> {
    return this.devices.heartbeat(principal, body);
  }

  @Get('v1/devices/:device_id')
  @RequireScope('devices:manage')
  @ApiOperation({ summary: 'One device (never its token)' })
  @ApiOkResponse({ type: DeviceViewDto })
  async get(@CurrentPrincipal() principal: Principal, @Param() params: DeviceIdParams): Promise<DeviceView> {
    return this.devices.get(principal, params.device_id);
  }

  @Post('v1/devices/:device_id/revoke')
  @HttpCode(200)
  @RequireScope('devices:manage')
  @ApiOperation({ summary: 'Revoke a device: its next request is refused; revoking again changes nothing' })
  @ApiOkResponse({ type: DeviceViewDto })
  async revoke(@CurrentPrincipal() principal: Principal, @Param() params: DeviceIdParams): Promise<DeviceView> {
    return this.devices.revoke(principal, params.device_id);
  }

  @Post('v1/devices/:device_id/rotate-token')
  @HttpCode(200)
  @RequireScope('devices:manage')
  @ApiOperation({
    summary: 'Issue a new device token, returned once; the old one stops working at once. 409 for a revoked device',
  })
  @ApiOkResponse({ type: DeviceWithTokenDto })
  async rotateToken(
    @CurrentPrincipal() principal: Principal,
    @Param() params: DeviceIdParams,
  ): Promise<DeviceWithToken> {
    return this.devices.rotateToken(principal, params.device_id);
  }
}
