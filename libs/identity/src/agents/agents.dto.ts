import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { AGENT_KINDS, MEMBERSHIP_ROLES, type AgentKind } from '@marvain/contracts';
import { DisplayText, OptionalButNotNull, PagedList } from '@marvain/platform';

export const AGENT_NAME_MAX = 200;

export class CreateAgentDto {
  @ApiProperty({ minLength: 1, maxLength: AGENT_NAME_MAX, example: 'Forge', description: 'Trimmed' })
  @DisplayText(AGENT_NAME_MAX)
  name!: string;

  @ApiPropertyOptional({ enum: AGENT_KINDS, default: 'self' })
  @OptionalButNotNull()
  @IsIn(AGENT_KINDS)
  kind?: AgentKind;
}

export class UpdateAgentDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: AGENT_NAME_MAX, description: 'Trimmed' })
  @OptionalButNotNull()
  @DisplayText(AGENT_NAME_MAX)
  name?: string;
}

export class AgentView {
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: AGENT_KINDS }) kind!: string;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({
    enum: MEMBERSHIP_ROLES,
    nullable: true,
    description: "The caller's role on the agent; null for a device or an agent",
  })
  role!: string | null;
}

export class AgentList extends PagedList {
  @ApiProperty({ type: [AgentView] }) agents!: AgentView[];
}
