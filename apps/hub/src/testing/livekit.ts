import { createHash, randomUUID } from 'node:crypto';
import { AccessToken } from 'livekit-server-sdk';
import type { LivekitSettings } from '@marvain/platform';

/** A LiveKit server no test reaches: tokens and webhook signatures need only its key and secret. */
export const TEST_LIVEKIT: LivekitSettings = {
  url: 'wss://livekit.example.test',
  apiKey: 'APItestkey',
  apiSecret: 'a-test-secret-that-is-long-enough-for-hs256',
};

/** A webhook body as LiveKit posts it (protobuf JSON of a WebhookEvent). */
export function webhookBody(
  event: string,
  room: string,
  identity?: string,
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    event,
    room: { sid: `RM_${randomUUID().slice(0, 8)}`, name: room },
    ...(identity ? { participant: { sid: `PA_${randomUUID().slice(0, 8)}`, identity, state: 'ACTIVE' } } : {}),
    id: `EV_${randomUUID().slice(0, 12)}`,
    createdAt: String(Math.floor(Date.now() / 1000)),
    ...extra,
  });
}

/**
 * The Authorization header LiveKit sends with a webhook: a JWT signed with the API secret whose
 * `sha256` claim is the base64 SHA-256 of the exact body.
 */
export function signWebhook(body: string, settings: Pick<LivekitSettings, 'apiKey' | 'apiSecret'> = TEST_LIVEKIT) {
  const token = new AccessToken(settings.apiKey, settings.apiSecret);
  token.sha256 = createHash('sha256').update(body).digest('base64');
  return token.toJwt();
}

/** The headers of a signed delivery of `body`. */
export async function webhookHeaders(
  body: string,
  settings?: Pick<LivekitSettings, 'apiKey' | 'apiSecret'>,
): Promise<Record<string, string>> {
  return { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, settings) };
}
