import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Device tokens are opaque: a recognisable prefix and 256 random bits. Only the hash is stored. */
export const DEVICE_TOKEN_PREFIX = 'mvd_';

export function newDeviceToken(): string {
  return `${DEVICE_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashDeviceToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function looksLikeDeviceToken(token: string): boolean {
  return token.startsWith(DEVICE_TOKEN_PREFIX) && token.length === DEVICE_TOKEN_PREFIX.length + 43;
}

const HEX_HASH = /^(?:[0-9a-f]{2})+$/i;

/** Constant-time comparison of two hex hashes of equal length; anything that is not a hex hash never matches. */
export function sameHash(a: string, b: string): boolean {
  // Buffer.from(…, 'hex') silently stops at the first non-hex character, so 'abc' and 'abd' (or '' and '') decode alike.
  if (!HEX_HASH.test(a) || !HEX_HASH.test(b)) {
    return false;
  }
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
