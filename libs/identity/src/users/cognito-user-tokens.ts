import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { JwtExpiredError } from 'aws-jwt-verify/error';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { DomainError, ErrorCode } from '@marvain/contracts';
import type { UserTokenIssuer, UserTokenVerifier, VerifiedUser } from './user-tokens';

/**
 * The AWS runtime's users: Cognito access tokens, verified with aws-jwt-verify (signature against
 * the pool's JWKS, issuer, client id, expiry, token_use = access). Cognito issues the tokens.
 */
export class CognitoUserTokens implements UserTokenVerifier, UserTokenIssuer {
  private readonly verifier;

  constructor(userPoolId: string, clientId: string) {
    this.verifier = CognitoJwtVerifier.create({ userPoolId, clientId, tokenUse: 'access' });
  }

  /** Supplies the pool's keys without fetching them (tests, and hosts without egress). */
  cacheJwks(jwks: Jwks): void {
    this.verifier.cacheJwks(jwks);
  }

  async verify(token: string): Promise<VerifiedUser> {
    try {
      const payload = await this.verifier.verify(token);
      const username = typeof payload['username'] === 'string' ? payload['username'] : null;
      const email = typeof payload['email'] === 'string' ? payload['email'] : null;
      return { subject: payload.sub, email, displayName: username };
    } catch (error) {
      if (error instanceof JwtExpiredError) {
        throw new DomainError(ErrorCode.Unauthenticated, 'the token has expired');
      }
      throw new DomainError(ErrorCode.Unauthenticated, 'the token is not a valid Cognito access token for this hub');
    }
  }

  issue(): Promise<string> {
    return Promise.reject(
      new DomainError(
        ErrorCode.ValidationFailed,
        'in the AWS runtime Cognito issues user tokens: sign in through the hosted UI',
      ),
    );
  }
}
