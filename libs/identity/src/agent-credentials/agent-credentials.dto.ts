import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsObject } from 'class-validator';
import { PagedList, UuidParam } from '@marvain/platform';
import { AGENT_KEY_ALGORITHMS, type AgentKeyAlgorithm } from './agent-assertions';

export class AgentCredentialParams {
  @UuidParam() agent_id!: string;
  @UuidParam() credential_id!: string;
}

export class RegisterAgentCredentialDto {
  @ApiProperty({ enum: AGENT_KEY_ALGORITHMS, description: 'EdDSA (Ed25519) or ES256 (P-256)' })
  @IsIn(AGENT_KEY_ALGORITHMS)
  alg!: AgentKeyAlgorithm;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The public key as a JWK (no private part)' })
  @IsObject()
  public_key!: Record<string, unknown>;
}

export class AgentCredentialView {
  @ApiProperty({ format: 'uuid' }) credential_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ enum: AGENT_KEY_ALGORITHMS }) alg!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) public_key!: Record<string, unknown>;
  @ApiProperty({ description: 'RFC 7638 thumbprint of the public key' }) thumbprint!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) created_by!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

export class AgentCredentialList extends PagedList {
  @ApiProperty({ type: [AgentCredentialView] }) credentials!: AgentCredentialView[];
}
