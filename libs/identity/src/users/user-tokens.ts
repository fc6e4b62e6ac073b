import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errors, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK, type KeyLike } from 'jose';
import { DomainError, ErrorCode } from '@marvain/contracts';
import type { Clock } from '@marvain/platform';

/** A verified human identity, whoever issued the token (Cognito in AWS, the hub itself locally). */
export interface VerifiedUser {
  subject: string;
  email: string | null;
  displayName: string | null;
  /**
   * Local tokens only: the user's token version when the token was issued (claim `tv`); a token
   * whose version is below the user's current one was revoked. Absent for Cognito tokens.
   */
  tokenVersion?: number;
}

export interface UserTokenVerifier {
  verify(token: string): Promise<VerifiedUser>;
}
export const USER_TOKEN_VERIFIER = Symbol('UserTokenVerifier');

export interface UserTokenIssuer {
  issue(user: VerifiedUser): Promise<string>;
}
export const USER_TOKEN_ISSUER = Symbol('UserTokenIssuer');

/** The runtime's one token component (local issuer, or Cognito), behind both ports. */
export const USER_TOKENS = Symbol('UserTokens');

export const LOCAL_ISSUER = 'urn:marvain:local';
export const LOCAL_CLIENT_ID = 'marvain-local';

interface StoredKey {
  kid: string;
  private: JWK;
  public: JWK;
}

/**
 * The local runtime's token issuer: Ed25519-signed JWTs with the claim shape of a Cognito
 * access token (sub, iss, client_id, token_use, scope, exp, iat, jti), plus the user's token
 * version (tv), which revocation raises. The key lives in the
 * data folder (mode 0600), so the CLI and the hub on one machine issue and accept the same tokens.
 */
export class LocalUserTokens implements UserTokenIssuer, UserTokenVerifier {
  private keys: Promise<{ kid: string; privateKey: KeyLike | Uint8Array; publicKey: KeyLike | Uint8Array }> | null =
    null;

  constructor(
    private readonly keyFile: string,
    private readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {}

  static keyFileIn(dataDir: string): string {
    return path.join(dataDir, 'keys', 'user-token-ed25519.json');
  }

  async issue(user: VerifiedUser): Promise<string> {
    const { kid, privateKey } = await this.loadKeys();
    const now = Math.floor(this.clock.now().getTime() / 1000);
    return new SignJWT({
      client_id: LOCAL_CLIENT_ID,
      token_use: 'access',
      scope: 'marvain/api',
      tv: user.tokenVersion ?? 0,
      ...(user.email ? { email: user.email } : {}),
      ...(user.displayName ? { name: user.displayName } : {}),
    })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setIssuer(LOCAL_ISSUER)
      .setSubject(user.subject)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(privateKey);
  }

  async verify(token: string): Promise<VerifiedUser> {
    const { publicKey } = await this.loadKeys();
    try {
      const { payload } = await jwtVerify(token, publicKey, {
        issuer: LOCAL_ISSUER,
        algorithms: ['EdDSA'],
        currentDate: this.clock.now(),
        // A token without an expiry would be valid forever: refuse it whatever else it carries.
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      if (payload['token_use'] !== 'access' || payload['client_id'] !== LOCAL_CLIENT_ID || !payload.sub) {
        throw new DomainError(ErrorCode.Unauthenticated, 'the token is not a Marvain access token');
      }
      const email = typeof payload['email'] === 'string' ? payload['email'] : null;
      const name = typeof payload['name'] === 'string' ? payload['name'] : null;
      // Tokens issued before versions existed carry none: they belong to version 0.
      const tv = payload['tv'] ?? 0;
      if (typeof tv !== 'number' || !Number.isSafeInteger(tv) || tv < 0) {
        throw new DomainError(ErrorCode.Unauthenticated, 'the token is not a Marvain access token');
      }
      return { subject: payload.sub, email, displayName: name, tokenVersion: tv };
    } catch (error) {
      if (error instanceof DomainError) {
        throw error;
      }
      if (error instanceof errors.JWTExpired) {
        throw new DomainError(ErrorCode.Unauthenticated, 'the token has expired');
      }
      if (error instanceof errors.JWTClaimValidationFailed && error.reason === 'missing') {
        throw new DomainError(ErrorCode.Unauthenticated, `the token is not valid: it carries no ${error.claim} claim`);
      }
      throw new DomainError(ErrorCode.Unauthenticated, 'the token is not valid');
    }
  }

  private loadKeys(): Promise<{ kid: string; privateKey: KeyLike | Uint8Array; publicKey: KeyLike | Uint8Array }> {
    this.keys ??= (async () => {
      const stored = await this.readOrCreate();
      return {
        kid: stored.kid,
        privateKey: await importJWK(stored.private, 'EdDSA'),
        publicKey: await importJWK(stored.public, 'EdDSA'),
      };
    })();
    return this.keys;
  }

  private async readOrCreate(): Promise<StoredKey> {
    try {
      return JSON.parse(await readFile(this.keyFile, 'utf8')) as StoredKey;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw error;
      }
    }
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const stored: StoredKey = {
      kid: randomUUID(),
      private: await exportJWK(privateKey),
      public: await exportJWK(publicKey),
    };
    await mkdir(path.dirname(this.keyFile), { recursive: true, mode: 0o700 });
    // Write the whole key to a private temp file, then link it into place: another process
    // either finds no key file or a complete one, and the first link wins.
    const temp = `${this.keyFile}.${process.pid}.${randomUUID()}.tmp`;
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(stored));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, this.keyFile);
      return stored;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        return JSON.parse(await readFile(this.keyFile, 'utf8')) as StoredKey;
      }
      throw error;
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }
}
