import { ApiProperty } from '@nestjs/swagger';
import { PagedList } from '@marvain/platform';
import { DisplayText, UuidParam } from '@marvain/platform';

export const PERSON_NAME_MAX = 200;

export class PersonIdParams {
  @UuidParam() person_id!: string;
}

export class CreatePersonDto {
  @ApiProperty({ minLength: 1, maxLength: PERSON_NAME_MAX, example: 'Sam', description: 'Trimmed' })
  @DisplayText(PERSON_NAME_MAX)
  display_name!: string;
}

export class PersonView {
  @ApiProperty({ format: 'uuid' }) person_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty() display_name!: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class PersonList extends PagedList {
  @ApiProperty({ type: [PersonView] }) people!: PersonView[];
}
