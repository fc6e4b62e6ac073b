import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { IsIn, IsObject, IsUUID } from 'class-validator';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, ListPageQuery, PagedList, RequireScope } from '@marvain/platform';
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

export class AgentCredentialResponse implements AgentCredentialView {
  @ApiProperty({ format: 'uuid' }) credential_id!: string;
  @ApiProperty({ format: 'uuid' }) agent_id!: string;
  @ApiProperty({ enum: AGENT_KEY_ALGORITHMS }) alg!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) public_key!: Record<string, unknown>;
  @ApiProperty({ description: 'RFC 7638 thumbprint of the public key' }) thumbprint!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) created_by!: string | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

export class AgentCredentialListResponse extends PagedList {
  @ApiProperty({ type: [AgentCredentialResponse] }) credentials!: AgentCredentialResponse[];
}

@ApiTags('agent credentials')
@ApiBearerAuth()
@Controller('v1/agents/:agent_id/credentials')
export class AgentCredentialsController {
  constructor(private readonly credentials: AgentCredentialsService) {}

  @Post()
  @RequireScope('agents:manage')
  @ApiOperation({ summary: 'Register (or replace) the public key the agent signs its assertions with' })
  async register(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Body() body: RegisterAgentCredentialDto,
  ): Promise<AgentCredentialView> {
    return this.credentials.register(principal, params.agent_id, body.alg, body.public_key);
  }

  @Get()
  @RequireScope('agents:read')
  @ApiOperation({ summary: "List the agent's keys, newest first, revoked ones included" })
  @ApiOkResponse({ type: AgentCredentialListResponse })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentIdParams,
    @Query() query: ListPageQuery,
  ): Promise<AgentCredentialListResponse> {
    return this.credentials.list(principal, params.agent_id, query);
  }

  @Post(':credential_id/revoke')
  @HttpCode(200)
  @RequireScope('agents:manage')
  @ApiOperation({ summary: "Revoke the agent's key; its assertions stop working at once" })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param() params: AgentCredentialParams,
  ): Promise<AgentCredentialView> {
    return this.credentials.revoke(principal, params.agent_id, params.credential_id);
  }
}
