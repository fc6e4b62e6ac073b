import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { MEMORY_TIERS, type MemoryTier } from '@marvain/contracts';

export class ListMemoriesQuery {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  agent_id!: string;

  @ApiPropertyOptional({ enum: MEMORY_TIERS })
  @IsOptional()
  @IsIn(MEMORY_TIERS)
  tier?: MemoryTier;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  space_id?: string;

  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
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

export class MemoryList {
  @ApiProperty({ type: [MemoryView] }) memories!: MemoryView[];
}
