import { Controller, Headers, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConsumes,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Principal } from '@marvain/contracts';
import { CurrentPrincipal, Public, RequireScope, WEBHOOK_CONTENT_TYPE, WebhookBody } from '@marvain/platform';
import { SpaceIdParams } from '@marvain/spaces';
import { LivekitTokenView, LivekitWebhookAck } from './livekit.dto';
import { LivekitService } from './livekit.service';

/** Where LiveKit posts its webhooks (configure `<hub URL>/v1/livekit/webhook` in LiveKit). */
export const LIVEKIT_WEBHOOK_PATH = '/v1/livekit/webhook';

const NOT_CONFIGURED = '`livekit_not_configured`: the hub has no LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET';

@ApiTags('livekit')
@Controller('v1')
export class LivekitController {
  constructor(private readonly livekit: LivekitService) {}

  @Post('spaces/:space_id/livekit-token')
  @HttpCode(200)
  @RequireScope('livekit:join')
  @ApiBearerAuth()
  @ApiOperation({
    summary: "A short-lived token to join the space's LiveKit room",
    description:
      'Users publish and subscribe; devices publish only when their capabilities include `microphone`, `camera`, `audio_in` or `video_in` (true); agents subscribe. Valid MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS (600 by default).',
  })
  @ApiOkResponse({ type: LivekitTokenView })
  @ApiForbiddenResponse({ description: '`forbidden`: no livekit:join on the space’s agent' })
  @ApiNotFoundResponse({ description: '`not_found`: no such space, or one of an agent you are not a member of' })
  @ApiTooManyRequestsResponse({ description: '`rate_limited` with details.retry_after_seconds: 30 tokens a minute' })
  @ApiServiceUnavailableResponse({ description: NOT_CONFIGURED })
  async token(@CurrentPrincipal() principal: Principal, @Param() params: SpaceIdParams): Promise<LivekitTokenView> {
    return this.livekit.issueToken(principal, params.space_id);
  }

  @Post('livekit/webhook')
  @HttpCode(200)
  @Public()
  @ApiConsumes(WEBHOOK_CONTENT_TYPE)
  @ApiOperation({
    summary: 'LiveKit webhooks: participants joining and leaving a space’s room move presence there',
    description:
      'No bearer token: the Authorization header LiveKit signs with the API secret over the exact body is the credential.',
  })
  @ApiOkResponse({ type: LivekitWebhookAck })
  @ApiUnauthorizedResponse({
    description: '`webhook_signature_invalid`: missing or invalid signature, or a changed body',
  })
  @ApiServiceUnavailableResponse({ description: NOT_CONFIGURED })
  async webhook(
    @WebhookBody() body: string | undefined,
    @Headers('authorization') authorization: string | undefined,
  ): Promise<LivekitWebhookAck> {
    return this.livekit.receiveWebhook(body, authorization);
  }
}
