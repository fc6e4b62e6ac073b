import { mkdtempSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose';
import { DomainError, ErrorCode } from '@marvain/contracts';
import type { Clock } from '@marvain/platform';
import { LOCAL_CLIENT_ID, LOCAL_ISSUER, LocalUserTokens } from './user-tokens';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TTL = 3600;

class FixedClock implements Clock {
  constructor(public at: Date) {}
  now(): Date {
    return this.at;
  }
}

const user = { subject: 'local:4f1d', email: 'owner@example.com', displayName: 'Owner', tokenVersion: 0 };

function freshKeyFile(): string {
  return LocalUserTokens.keyFileIn(mkdtempSync(path.join(tmpdir(), 'marvain-user-tokens-')));
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the token to be refused');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(ErrorCode.Unauthenticated);
  return error as DomainError;
}

describe('LocalUserTokens', () => {
  it('verifies the tokens it issues, giving back the user', async () => {
    const tokens = new LocalUserTokens(freshKeyFile(), TTL, new FixedClock(new Date()));
    const token = await tokens.issue(user);
    await expect(tokens.verify(token)).resolves.toEqual(user);

    const bare = await tokens.issue({ subject: 'local:bare', email: null, displayName: null });
    await expect(tokens.verify(bare)).resolves.toEqual({
      subject: 'local:bare',
      email: null,
      displayName: null,
      tokenVersion: 0,
    });
  });

  it('issues Ed25519 JWTs with the claims of a Cognito access token', async () => {
    const now = new Date('2026-11-02T10:00:00.000Z');
    const keyFile = freshKeyFile();
    const tokens = new LocalUserTokens(keyFile, TTL, new FixedClock(now));
    const token = await tokens.issue(user);

    const header = decodeProtectedHeader(token);
    const stored = JSON.parse(await readFile(keyFile, 'utf8')) as { kid: string };
    expect(header).toEqual({ alg: 'EdDSA', kid: stored.kid, typ: 'JWT' });

    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      token_use: 'access',
      client_id: LOCAL_CLIENT_ID,
      iss: LOCAL_ISSUER,
      sub: user.subject,
      iat: now.getTime() / 1000,
      exp: now.getTime() / 1000 + TTL,
      email: user.email,
      name: user.displayName,
      tv: 0,
    });
    expect(claims.jti).toMatch(UUID);
    expect(decodeJwt(await tokens.issue(user)).jti).not.toBe(claims.jti);
  });

  it('keeps its private key in a file only its owner can read', async () => {
    const keyFile = freshKeyFile();
    await new LocalUserTokens(keyFile, TTL, new FixedClock(new Date())).issue(user);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(keyFile))).mode & 0o077).toBe(0);
    const stored = JSON.parse(await readFile(keyFile, 'utf8')) as { private: { d?: string; crv?: string } };
    expect(stored.private.crv).toBe('Ed25519');
    expect(typeof stored.private.d).toBe('string');
  });

  it('shares the key through the file: a second instance verifies the first one’s tokens, and the reverse', async () => {
    const keyFile = freshKeyFile();
    const clock = new FixedClock(new Date());
    const hub = new LocalUserTokens(keyFile, TTL, clock);
    const cli = new LocalUserTokens(keyFile, TTL, clock);
    const fromHub = await hub.issue(user);
    await expect(cli.verify(fromHub)).resolves.toEqual(user);
    await expect(hub.verify(await cli.issue(user))).resolves.toEqual(user);
  });

  it('agrees on one key when several instances start on a fresh file at the same time', async () => {
    const keyFile = freshKeyFile();
    const clock = new FixedClock(new Date());
    const instances = Array.from({ length: 8 }, () => new LocalUserTokens(keyFile, TTL, clock));
    const issued = await Promise.all(instances.map((t) => t.issue(user)));
    const kids = new Set(issued.map((token) => decodeProtectedHeader(token).kid));
    expect(kids.size).toBe(1);
    for (const verifier of instances) {
      for (const token of issued) {
        await expect(verifier.verify(token)).resolves.toEqual(user);
      }
    }
  });

  it('refuses tokens signed with another key', async () => {
    const clock = new FixedClock(new Date());
    const ours = new LocalUserTokens(freshKeyFile(), TTL, clock);
    const theirs = new LocalUserTokens(freshKeyFile(), TTL, clock);
    await refusal(ours.verify(await theirs.issue(user)));
  });

  it('refuses a token after it expires, and accepts it until then', async () => {
    const clock = new FixedClock(new Date('2026-11-02T10:00:00.000Z'));
    const tokens = new LocalUserTokens(freshKeyFile(), TTL, clock);
    const token = await tokens.issue(user);

    clock.at = new Date(clock.at.getTime() + (TTL - 5) * 1000);
    await expect(tokens.verify(token)).resolves.toEqual(user);
    clock.at = new Date(clock.at.getTime() + 10 * 1000);
    const error = await refusal(tokens.verify(token));
    expect(error.message).toMatch(/expired/);
  });

  it('refuses tampered and malformed tokens', async () => {
    const tokens = new LocalUserTokens(freshKeyFile(), TTL, new FixedClock(new Date()));
    const token = await tokens.issue(user);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const otherPayload = Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'local:someone-else' })).toString(
      'base64url',
    );

    await refusal(tokens.verify(`${header}.${otherPayload}.${signature}`));
    // Flip one bit of the decoded signature: editing base64url text can leave the bytes unchanged.
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    await refusal(tokens.verify(`${header}.${payload}.${flipped.toString('base64url')}`));
    await refusal(tokens.verify(`${header}.${payload}.`));
    await refusal(tokens.verify('not.a.jwt'));
    await refusal(tokens.verify(''));
  });

  it('carries the token version it is issued at, and gives it back', async () => {
    const tokens = new LocalUserTokens(freshKeyFile(), TTL, new FixedClock(new Date()));
    const token = await tokens.issue({ ...user, tokenVersion: 3 });
    expect(decodeJwt(token)['tv']).toBe(3);
    await expect(tokens.verify(token)).resolves.toEqual({ ...user, tokenVersion: 3 });
  });

  it.each([
    ['exp', (jwt: SignJWT, now: number) => jwt.setIssuedAt(now)],
    ['iat', (jwt: SignJWT, now: number) => jwt.setExpirationTime(now + 60)],
  ])('refuses a token signed with its own key that carries no %s', async (claim, complete) => {
    const keyFile = freshKeyFile();
    const tokens = new LocalUserTokens(keyFile, TTL, new FixedClock(new Date()));
    await tokens.issue(user); // creates the key file
    const stored = JSON.parse(await readFile(keyFile, 'utf8')) as { kid: string; private: JWK };
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ client_id: LOCAL_CLIENT_ID, token_use: 'access', scope: 'marvain/api' })
      .setProtectedHeader({ alg: 'EdDSA', kid: stored.kid, typ: 'JWT' })
      .setIssuer(LOCAL_ISSUER)
      .setSubject(user.subject);
    const unbounded = await complete(jwt, now).sign(await importJWK(stored.private, 'EdDSA'));
    const error = await refusal(tokens.verify(unbounded));
    expect(error.message).toContain(`no ${claim} claim`);
  });
});
