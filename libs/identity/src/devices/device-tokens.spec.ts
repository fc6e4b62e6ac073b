import crypto, { createHash } from 'node:crypto';
import { DEVICE_TOKEN_PREFIX, hashDeviceToken, looksLikeDeviceToken, newDeviceToken, sameHash } from './device-tokens';

describe('device tokens', () => {
  it('are the mvd_ prefix followed by 256 random bits in base64url', () => {
    const token = newDeviceToken();
    expect(DEVICE_TOKEN_PREFIX).toBe('mvd_');
    expect(token).toMatch(/^mvd_[A-Za-z0-9_-]{43}$/);
    const secret = Buffer.from(token.slice(DEVICE_TOKEN_PREFIX.length), 'base64url');
    expect(secret).toHaveLength(32);
    expect(looksLikeDeviceToken(token)).toBe(true);
  });

  it('never repeat, and their bits look random', () => {
    const tokens = Array.from({ length: 2000 }, () => newDeviceToken());
    expect(new Set(tokens).size).toBe(tokens.length);
    // Over 2000 × 256 bits, about half are set; a constant or counter-based token would be far off.
    let ones = 0;
    for (const token of tokens) {
      for (const byte of Buffer.from(token.slice(4), 'base64url')) {
        ones += byte.toString(2).replace(/0/g, '').length;
      }
    }
    const ratio = ones / (tokens.length * 256);
    expect(ratio).toBeGreaterThan(0.49);
    expect(ratio).toBeLessThan(0.51);
  });

  it('are recognised only in their exact shape', () => {
    expect(looksLikeDeviceToken('mvd_short')).toBe(false);
    expect(looksLikeDeviceToken(`mvd_${'a'.repeat(44)}`)).toBe(false);
    expect(looksLikeDeviceToken(`xyz_${'a'.repeat(43)}`)).toBe(false);
    expect(looksLikeDeviceToken('eyJhbGciOiJFZERTQSJ9.e30.c2ln')).toBe(false);
  });
});

describe('hashDeviceToken', () => {
  it('is the stable SHA-256 hex of the token, so the stored hash finds the device again', () => {
    const token = newDeviceToken();
    expect(hashDeviceToken(token)).toBe(createHash('sha256').update(token, 'utf8').digest('hex'));
    expect(hashDeviceToken(token)).toBe(hashDeviceToken(token));
    expect(hashDeviceToken(token)).toMatch(/^[0-9a-f]{64}$/);
    // A known answer (sha256sum of the bytes), so stored hashes stay valid across releases.
    expect(hashDeviceToken('mvd_fixed')).toBe('2d97e5f557521f8717bc6f7eb9dfe0ec8d8f252aebd1231a9a832e6e95cdc39b');
  });

  it('differs for different tokens, and never contains the token', () => {
    const a = newDeviceToken();
    const b = newDeviceToken();
    expect(hashDeviceToken(a)).not.toBe(hashDeviceToken(b));
    expect(hashDeviceToken(a)).not.toContain(a.slice(4, 20));
  });
});

describe('sameHash', () => {
  const a = hashDeviceToken('mvd_one');
  const b = hashDeviceToken('mvd_two');

  afterEach(() => jest.restoreAllMocks());

  it('is true only for the same hash', () => {
    expect(sameHash(a, a)).toBe(true);
    expect(sameHash(a, a.toUpperCase())).toBe(true);
    expect(sameHash(a, b)).toBe(false);
    // One differing nibble, first or last.
    const flipLast = a.slice(0, -1) + (a.endsWith('0') ? '1' : '0');
    const flipFirst = (a.startsWith('0') ? '1' : '0') + a.slice(1);
    expect(sameHash(a, flipLast)).toBe(false);
    expect(sameHash(a, flipFirst)).toBe(false);
  });

  it('is false for hashes of different lengths, including a prefix of the real one', () => {
    expect(sameHash(a, a.slice(0, 32))).toBe(false);
    expect(sameHash(a, `${a}00`)).toBe(false);
    expect(sameHash(a, '')).toBe(false);
  });

  it('is false for anything that is not a hex hash, even when both sides decode alike', () => {
    // Buffer.from(…, 'hex') stops at the first bad character: these decode to identical bytes.
    expect(sameHash('abc', 'abd')).toBe(false);
    expect(sameHash('zz', 'yy')).toBe(false);
    expect(sameHash('', '')).toBe(false);
    expect(sameHash(`${a.slice(0, 62)}zz`, `${a.slice(0, 62)}yy`)).toBe(false);
  });

  it('compares equal-length hashes with a constant-time comparison, not an early-exit one', () => {
    const spy = jest.spyOn(crypto, 'timingSafeEqual');
    sameHash(a, b);
    sameHash(a, a);
    expect(spy).toHaveBeenCalledTimes(2);
    for (const [left, right] of spy.mock.calls) {
      expect(Buffer.from(left as Uint8Array)).toHaveLength(32);
      expect(Buffer.from(right as Uint8Array)).toHaveLength(32);
    }
  });
});
