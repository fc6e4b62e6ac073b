import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean } from 'class-validator';
import { DisplayText, OptionalButNotNull, PagedList, UuidParam } from '@marvain/platform';

export const SPACE_NAME_MAX = 200;

export class SpaceIdParams {
  @UuidParam() space_id!: string;
}

export class CreateSpaceDto {
  @ApiProperty({
    minLength: 1,
    maxLength: SPACE_NAME_MAX,
    example: 'kitchen',
    description: 'Unique per agent; trimmed',
  })
  @DisplayText(SPACE_NAME_MAX)
  name!: string;

  @ApiPropertyOptional({
    default: false,
    description: 'When on, events sent to the space are accepted but neither stored nor queued',
  })
  @OptionalButNotNull()
  @IsBoolean()
  privacy_mode?: boolean;
}

export class UpdateSpaceDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: SPACE_NAME_MAX, description: 'Unique per agent; trimmed' })
  @OptionalButNotNull()
  @DisplayText(SPACE_NAME_MAX)
  name?: string;

  @ApiPropertyOptional({ description: 'Turning it on or off is audited (space.privacy_mode_changed)' })
  @OptionalButNotNull()
  @IsBoolean()
  privacy_mode?: boolean;
}

export class SpaceView {
  @ApiProperty({ format: 'uuid' }) space_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() privacy_mode!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
}

export class SpaceList extends PagedList {
  @ApiProperty({ type: [SpaceView] }) spaces!: SpaceView[];
}
