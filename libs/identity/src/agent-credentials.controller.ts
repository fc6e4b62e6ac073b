import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsIn, IsObject, IsUUID } from 'class-validator';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, RequireScope } from '@marvain/platform';
import { AGENT_KEY_ALGORITHMS, type AgentKeyAlgorithm } from './agent-assertions';
import { AgentCredentialsService, type AgentCredentialView } from './agent-credentials.service';

export class AgentIdParams {
  @IsUUID() agent_id!: string;
}

export class AgentCredentialParams {
  @IsUUID() agent_id!: string;
  @IsUUID() credential_id!: string;
}

export class RegisterAgentCredentialDto {
  @ApiProperty({ enum: AGENT_KEY_ALGORITHMS, description: 'EdDSA (Ed25519) or ES256 (P-256)' })
  @IsIn(AGENT_KEY_ALGORITHMS)
  alg!: AgentKeyAlgorithm;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The public key as a JWK (no private part)' })
  @IsObject()
  public_key!: Record<string, unknown>;
}

@ApiTags('agent credentials')
@ApiBearerAuth()
@Controller('v1/agents/:agent_id/credentials')
export class AgentCredentialsController {
  constructor(private readonly credentials: AgentCredentialsService) {}

  @Post()
  @RequireScope('agents:manage')
  @ApiOperation({ summary: "Register (or replace) the public key the agent signs its assertions with" })
  async register(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams, @Body() body: RegisterAgentCredentialDto): Promise<AgentCredentialView> {
    return this.credentials.register(principal, params.agent_id, body.alg, body.public_key);
  }

  @Get()
  @RequireScope('agents:read')
  @ApiOperation({ summary: "List the agent's keys, newest first, revoked ones included" })
  async list(@CurrentPrincipal() principal: Principal, @Param() params: AgentIdParams): Promise<{ credentials: AgentCredentialView[] }> {
    return { credentials: await this.credentials.list(principal, params.agent_id) };
  }

  @Post(':credential_id/revoke')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({ summary: "Revoke the agent's key; its assertions stop working at once" })
  async revoke(@CurrentPrincipal() principal: Principal, @Param() params: AgentCredentialParams): Promise<AgentCredentialView> {
    return this.credentials.revoke(principal, params.agent_id, params.credential_id);
  }
}
