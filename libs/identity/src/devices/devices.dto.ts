import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn, IsUUID, ValidateBy, type ValidationOptions } from 'class-validator';
import { DEFAULT_DEVICE_SCOPES, isScopeGrant, SCOPES } from '@marvain/contracts';
import { DisplayText, nestsDeeperThan, OptionalButNotNull, PagedList, UuidParam } from '@marvain/platform';

export const DEVICE_NAME_MAX = 200;

export type HeartbeatStatus = 'online' | 'away';
export const HEARTBEAT_STATUSES: readonly HeartbeatStatus[] = ['online', 'away'];

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

export class DeviceIdParams {
  @UuidParam() device_id!: string;
}

export class RegisterDeviceDto {
  @ApiProperty({ minLength: 1, maxLength: DEVICE_NAME_MAX, example: 'kitchen satellite', description: 'Trimmed' })
  @DisplayText(DEVICE_NAME_MAX)
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

export class DeviceView {
  @ApiProperty({ format: 'uuid' }) device_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: [String] }) scopes!: string[];
  @ApiProperty({ type: 'object', additionalProperties: true }) capabilities!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata!: Record<string, unknown>;
  @ApiProperty({ description: 'metadata.is_remote === true: the device is a remote satellite' }) is_remote!: boolean;
  @ApiProperty() created_at!: string;
  @ApiProperty({ nullable: true }) revoked_at!: string | null;
  @ApiProperty({ nullable: true }) last_hello_at!: string | null;
  @ApiProperty({ nullable: true }) last_heartbeat_at!: string | null;
}

/** A device together with its token: returned by registration and rotation only, never stored or listed. */
export class DeviceWithTokenView {
  @ApiProperty({ type: DeviceView }) device!: DeviceView;
  @ApiProperty({ description: 'The device token. Shown only in this response: the hub stores just its SHA-256 hash' })
  token!: string;
}

export class DeviceList extends PagedList {
  @ApiProperty({ type: [DeviceView] }) devices!: DeviceView[];
}

export class HeartbeatView {
  @ApiProperty({ format: 'uuid' }) device_id!: string;
  @ApiProperty() last_heartbeat_at!: string;
}
