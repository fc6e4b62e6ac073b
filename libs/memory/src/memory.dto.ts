import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { AgentListQuery, PagedList } from '@marvain/platform';
import { MEMORY_TIERS, type MemoryTier } from '@marvain/contracts';

export class ListMemoriesQuery extends AgentListQuery {
  @ApiPropertyOptional({ enum: MEMORY_TIERS })
  @IsOptional()
  @IsIn(MEMORY_TIERS)
  tier?: MemoryTier;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  space_id?: string;
}

export class MemoryView {
  @ApiProperty({ format: 'uuid' }) memory_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true }) space_id!: string | null;
  @ApiProperty({ enum: MEMORY_TIERS }) tier!: string;
  @ApiProperty() content!: string;
  @ApiProperty({ format: 'uuid', nullable: true }) source_event_id!: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) provenance!: Record<string, unknown>;
  @ApiProperty() created_at!: string;
}

export class MemoryList extends PagedList {
  @ApiProperty({ type: [MemoryView] }) memories!: MemoryView[];
}
