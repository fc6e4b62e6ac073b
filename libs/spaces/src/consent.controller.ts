import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, RequireScope } from '@marvain/platform';
import {
  ConsentIdParams,
  ConsentList,
  ConsentView,
  GrantConsentDto,
  ListConsentsQuery,
  RevokeConsentDto,
} from './consent.dto';
import { ConsentService } from './consent.service';
import { PersonIdParams } from './people.dto';

@ApiTags('consent')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: '`validation_failed` with details.fields' })
@ApiNotFoundResponse({
  description: '`not_found`: no such id, or one of an agent you are not a member of (the two answer alike)',
})
@Controller('v1')
export class ConsentController {
  constructor(private readonly consents: ConsentService) {}

  @Post('people/:person_id/consents')
  @RequireScope('spaces:manage')
  @ApiOperation({
    summary: "Record a person's consent (audited); it replaces their grant of the same type still in force",
  })
  @ApiCreatedResponse({ type: ConsentView })
  async grant(
    @CurrentPrincipal() principal: Principal,
    @Param() params: PersonIdParams,
    @Body() body: GrantConsentDto,
  ): Promise<ConsentView> {
    return this.consents.grant(principal, params.person_id, body);
  }

  @Get('people/:person_id/consents')
  @RequireScope('spaces:read')
  @ApiOperation({ summary: "List a person's consent grants, newest first, with status active, expired or revoked" })
  @ApiOkResponse({ type: ConsentList })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Param() params: PersonIdParams,
    @Query() query: ListConsentsQuery,
  ): Promise<ConsentList> {
    return this.consents.list(principal, params.person_id, query);
  }

  @Post('consents/:consent_id/revoke')
  @HttpCode(200)
  @RequireScope('spaces:manage')
  @ApiOperation({ summary: 'Revoke a consent grant (audited); revoking it again changes nothing' })
  @ApiOkResponse({ type: ConsentView })
  async revoke(
    @CurrentPrincipal() principal: Principal,
    @Param() params: ConsentIdParams,
    @Body() body: RevokeConsentDto,
  ): Promise<ConsentView> {
    return this.consents.revoke(principal, params.consent_id, body.reason);
  }
}
