import { decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify, type JWK } from 'jose';
import { DomainError, ErrorCode } from '@marvain/contracts';

/** The audience every agent assertion must name. */
export const AGENT_ASSERTION_AUDIENCE = 'urn:marvain:hub';
/** An assertion may live at most this long (exp − iat), and must not be expired. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Tolerated clock difference between an agent and the hub. */
export const CLOCK_SKEW_SECONDS = 30;

export const AGENT_KEY_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export type AgentKeyAlgorithm = (typeof AGENT_KEY_ALGORITHMS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A jti is stored as text: control characters (NUL above all, which PostgreSQL refuses) and
// lone UTF-16 surrogates would fail there, so they are refused here as unauthenticated.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface AssertionClaims {
  agentId: string;
  jti: string;
  expiresAt: Date;
}

/**
 * Reads (without trusting) a JWT that claims to be an agent assertion: iss = sub = an agent id.
 * Returns null for any other JWT (user tokens have an issuer URL). Shape and lifetime are
 * checked here, before any database work; the signature is checked against the registered key.
 */
export function peekAgentAssertion(token: string, now: Date): AssertionClaims | null {
  let payload: ReturnType<typeof decodeJwt>;
  try {
    payload = decodeJwt(token);
  } catch {
    return null;
  }
  if (typeof payload.iss !== 'string' || !UUID.test(payload.iss) || payload.sub !== payload.iss) {
    return null;
  }
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const { exp, iat, jti, aud } = payload;
  const audiences = Array.isArray(aud) ? aud : [aud];
  const refuse = (why: string): never => {
    throw new DomainError(ErrorCode.Unauthenticated, `agent assertion refused: ${why}`);
  };
  if (typeof exp !== 'number' || typeof iat !== 'number') {
    return refuse('it needs numeric iat and exp');
  }
  if (exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) {
    return refuse(`it may live at most ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`);
  }
  if (exp <= nowSeconds - CLOCK_SKEW_SECONDS) {
    return refuse('it has expired');
  }
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) {
    return refuse('it was issued in the future');
  }
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 200) {
    return refuse('it needs a jti of 8 to 200 characters');
  }
  if (CONTROL.test(jti) || LONE_SURROGATE.test(jti)) {
    return refuse('its jti must be printable text (no control characters or lone surrogates)');
  }
  if (!audiences.includes(AGENT_ASSERTION_AUDIENCE)) {
    return refuse(`its audience must be ${AGENT_ASSERTION_AUDIENCE}`);
  }
  return { agentId: payload.iss.toLowerCase(), jti, expiresAt: new Date(exp * 1000) };
}

/** Verifies the signature and claims with the agent's registered public key. */
export async function verifyAgentAssertion(
  token: string,
  claims: AssertionClaims,
  key: { alg: string; public_key: Record<string, unknown> },
  now: Date,
): Promise<void> {
  try {
    if (decodeProtectedHeader(token).alg !== key.alg) {
      throw new DomainError(ErrorCode.Unauthenticated, `agent assertion refused: it must be signed with ${key.alg}`);
    }
    await jwtVerify(token, await importJWK(publicJwk(key.public_key), key.alg), {
      issuer: claims.agentId,
      subject: claims.agentId,
      audience: AGENT_ASSERTION_AUDIENCE,
      algorithms: [key.alg],
      currentDate: now,
      clockTolerance: CLOCK_SKEW_SECONDS,
      maxTokenAge: MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS,
    });
  } catch (error) {
    if (error instanceof DomainError) {
      throw error;
    }
    if (error instanceof errors.JWTExpired) {
      throw new DomainError(ErrorCode.Unauthenticated, 'agent assertion refused: it has expired');
    }
    throw new DomainError(
      ErrorCode.Unauthenticated,
      'agent assertion refused: the signature does not verify with the registered key',
    );
  }
}

/** The public members of a stored JWK (kty, crv, x, y), as jose expects them. */
export function publicJwk(stored: Record<string, unknown>): JWK {
  const text = (name: string): string | undefined => {
    const value = stored[name];
    return typeof value === 'string' ? value : undefined;
  };
  const jwk: JWK = { kty: text('kty') ?? '' };
  for (const name of ['crv', 'x', 'y'] as const) {
    const value = text(name);
    if (value !== undefined) {
      jwk[name] = value;
    }
  }
  return jwk;
}

/** Checks a submitted public key: the right key type for the algorithm, and public parts only. */
export async function validateAgentPublicKey(alg: AgentKeyAlgorithm, jwk: Record<string, unknown>): Promise<JWK> {
  const expected = alg === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519' } : { kty: 'EC', crv: 'P-256' };
  const problem = (message: string): never => {
    throw new DomainError(ErrorCode.ValidationFailed, message);
  };
  if (jwk['kty'] !== expected.kty || jwk['crv'] !== expected.crv) {
    problem(`an ${alg} key must be a JWK with kty ${expected.kty} and crv ${expected.crv}`);
  }
  if ('d' in jwk) {
    problem('send the public key only; the JWK contains a private part (d)');
  }
  const publicOnly: JWK =
    alg === 'EdDSA'
      ? { kty: 'OKP', crv: 'Ed25519', x: jwk['x'] as string }
      : { kty: 'EC', crv: 'P-256', x: jwk['x'] as string, y: jwk['y'] as string };
  try {
    await importJWK(publicOnly, alg);
  } catch {
    problem('the public key is not a valid JWK for its algorithm');
  }
  return publicOnly;
}
