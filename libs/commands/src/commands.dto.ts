import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  COMMAND_STATUSES,
  DEVICE_COMMAND_KINDS,
  MAX_COMMAND_TTL_SECONDS,
  type CommandStatus,
  type DeviceCommandKind,
} from '@marvain/contracts';
import { ListPageQuery, OptionalButNotNull, PagedList, UuidParam } from '@marvain/platform';

export const COMMAND_ERROR_CODE_MAX = 64;
export const COMMAND_ERROR_MESSAGE_MAX = 2000;

export class CreateCommandDto {
  @ApiProperty({ enum: DEVICE_COMMAND_KINDS })
  @IsIn(DEVICE_COMMAND_KINDS)
  kind!: DeviceCommandKind;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'ping: none; config: `{settings}` (a JSON object of at most 16 KiB); run_action: `{name, args?}` (a name the device lists, up to 32 string arguments)',
    example: { name: 'uptime' },
  })
  @OptionalButNotNull()
  @IsObject()
  args?: Record<string, unknown>;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_COMMAND_TTL_SECONDS, description: 'Default 300' })
  @OptionalButNotNull()
  @IsInt()
  @Min(1)
  @Max(MAX_COMMAND_TTL_SECONDS)
  ttl_seconds?: number;
}

export class DeviceCommandParams {
  @UuidParam() device_id!: string;
  @UuidParam() command_id!: string;
}

export class ListCommandsQuery extends ListPageQuery {
  @ApiPropertyOptional({ enum: COMMAND_STATUSES })
  @IsOptional()
  @IsIn(COMMAND_STATUSES)
  status?: CommandStatus;
}

export class CommandErrorView {
  @ApiProperty({ example: 'device_timeout' }) code!: string;
  @ApiProperty() message!: string;
}

export class DeviceCommandView {
  @ApiProperty({ format: 'uuid' }) command_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid' }) device_id!: string;
  @ApiProperty({ enum: DEVICE_COMMAND_KINDS }) kind!: DeviceCommandKind;
  @ApiProperty({ type: 'object', additionalProperties: true }) args!: Record<string, unknown>;
  @ApiProperty({ enum: COMMAND_STATUSES }) status!: CommandStatus;
  @ApiProperty({ format: 'uuid', nullable: true }) action_id!: string | null;
  @ApiProperty({ example: 'user:6f1c…' }) requested_by!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty({ nullable: true }) sent_at!: string | null;
  @ApiProperty({ nullable: true }) completed_at!: string | null;
  @ApiProperty() expires_at!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) result!: Record<string, unknown> | null;
  @ApiProperty({ type: CommandErrorView, nullable: true }) error!: CommandErrorView | null;
}

export class DeviceCommandList extends PagedList {
  @ApiProperty({ type: [DeviceCommandView] }) commands!: DeviceCommandView[];
}

export class CommandErrorDto {
  @IsString()
  @Length(1, COMMAND_ERROR_CODE_MAX)
  code!: string;

  @IsString()
  @Length(0, COMMAND_ERROR_MESSAGE_MAX)
  message!: string;
}

/** `cmd.result` (WebSocket, devices only): the device's answer to one of its commands. */
export class CommandResultMessage {
  @IsUUID()
  command_id!: string;

  @IsBoolean()
  ok!: boolean;

  @OptionalButNotNull()
  @IsObject()
  result?: Record<string, unknown>;

  @OptionalButNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => CommandErrorDto)
  error?: CommandErrorDto;
}
