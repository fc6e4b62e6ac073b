import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { assertAgentScope, CurrentPrincipal, RequireScope } from '@marvain/platform';
import { VerifyAuditQuery } from './audit.dto';
import { AuditService } from './audit.service';
import type { AuditVerification } from './audit.types';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get('verify')
  @RequireScope('audit:read')
  @ApiOperation({ summary: "Recompute an agent's audit hash chain from its write-once copies" })
  @ApiOkResponse({ description: '`{ok, entries, head}`; when not ok, `first_bad_seq` and `reason`' })
  async verify(@CurrentPrincipal() principal: Principal, @Query() query: VerifyAuditQuery): Promise<AuditVerification> {
    assertAgentScope(principal, query.agent_id, 'audit:read');
    return this.audit.verify(query.agent_id);
  }
}
