import { ApiProperty } from '@nestjs/swagger';
import { PRESENCE_STATUSES, type PresenceStatus, type PresenceView as PresenceViewShape } from '@marvain/contracts';

export const PRESENCE_SUBJECT_TYPES = ['user', 'device', 'agent'] as const;

export class PresenceView implements PresenceViewShape {
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'null: connected to the agent but in no particular space',
  })
  space_id!: string | null;
  @ApiProperty({ enum: PRESENCE_SUBJECT_TYPES }) subject_type!: 'user' | 'device' | 'agent';
  @ApiProperty({ format: 'uuid' }) subject_id!: string;
  @ApiProperty({ enum: PRESENCE_STATUSES }) status!: PresenceStatus;
  @ApiProperty({ format: 'date-time', description: 'The last sign of the subject (heartbeat, ping, hello)' })
  last_seen!: string;
}

export class PresenceList {
  @ApiProperty({
    type: [PresenceView],
    description: 'Online and away rows first, then offline ones, each by last_seen, newest first',
  })
  presence!: PresenceView[];
}
