import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsString, IsUUID, Length, Matches } from 'class-validator';
import { OptionalButNotNull } from '@marvain/platform';

export class IngestEventDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  space_id!: string;

  @ApiPropertyOptional({ format: 'uuid', description: "Must match the space's agent when given" })
  @OptionalButNotNull()
  @IsUUID()
  agent_id?: string;

  @ApiProperty({ example: 'transcript_chunk', description: 'Lower-case, dot/underscore/dash separated' })
  @IsString()
  @Length(1, 100)
  @Matches(/^[a-z][a-z0-9_.-]*$/, {
    message: 'type must be lower-case letters, digits, ".", "_" or "-", starting with a letter',
  })
  type!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { text: 'tell Sam the package arrived' } })
  @IsObject()
  payload!: Record<string, unknown>;

  @ApiPropertyOptional({
    description: "The client's id for this event; repeating it returns the first event instead of storing a second",
  })
  @OptionalButNotNull()
  @IsString()
  @Length(1, 200)
  client_event_id?: string;
}

export class IngestedEventView {
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    description: 'null when the space is in privacy mode (nothing stored)',
  })
  event_id!: string | null;

  @ApiProperty({ description: 'false when privacy mode kept the event from being stored' })
  stored!: boolean;

  @ApiProperty({ description: 'true when client_event_id matched an earlier event' })
  duplicate!: boolean;
}

/** A stored event as readers see it: the data of its `events.new` stream entry. */
export class EventView {
  @ApiProperty({ format: 'uuid' }) event_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ format: 'uuid' }) space_id!: string;
  @ApiProperty({ example: 'transcript_chunk' }) type!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) payload!: Record<string, unknown>;
  @ApiProperty({ description: 'who sent it: device, user, agent or system' }) source_type!: string;
  @ApiProperty({ format: 'uuid' }) source_id!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}
