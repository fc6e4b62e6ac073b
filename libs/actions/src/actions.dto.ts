import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length } from 'class-validator';
import { ACTION_STATUSES, type ActionStatus } from '@marvain/contracts';
import { AgentListQuery, OptionalButNotNull, PagedList, UuidParam } from '@marvain/platform';

export class ListActionsQuery extends AgentListQuery {
  @ApiPropertyOptional({ enum: ACTION_STATUSES })
  @IsOptional()
  @IsIn(ACTION_STATUSES)
  status?: ActionStatus;
}

export class RejectActionDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @OptionalButNotNull()
  @IsString()
  @Length(1, 500)
  reason?: string;
}

export class ActionIdParams {
  @UuidParam() id!: string;
}

export class ActionView {
  @ApiProperty({ format: 'uuid' }) action_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true }) space_id!: string | null;
  @ApiProperty({ example: 'send_message' }) kind!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) payload!: Record<string, unknown>;
  @ApiProperty({ type: [String] }) required_scopes!: string[];
  @ApiProperty({ enum: ACTION_STATUSES }) status!: string;
  @ApiProperty({ nullable: true }) reason!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true }) source_event_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true }) approved_by!: string | null;
  @ApiProperty({ nullable: true }) approved_at!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true }) rejected_by!: string | null;
  @ApiProperty({ nullable: true }) rejected_at!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) result!: Record<string, unknown> | null;
  @ApiProperty({ nullable: true }) error!: string | null;
  @ApiProperty({ nullable: true }) completed_at!: string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty() updated_at!: string;
}

export class ActionList extends PagedList {
  @ApiProperty({ type: [ActionView] }) actions!: ActionView[];
}
