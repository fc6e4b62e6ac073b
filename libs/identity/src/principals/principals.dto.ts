import { ApiProperty } from '@nestjs/swagger';
import { PRINCIPAL_TYPES } from '@marvain/contracts';

export class AgentAccessView {
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ type: [String] }) scopes!: readonly string[];
}

/** Who the caller is, and what it may do on which agent. */
export class PrincipalView {
  @ApiProperty({ enum: PRINCIPAL_TYPES }) type!: string;
  @ApiProperty() id!: string;
  @ApiProperty({ type: [AgentAccessView] }) agents!: AgentAccessView[];
}
