import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { DomainError, ErrorCode } from '@marvain/contracts';
import { CognitoUserTokens } from './cognito-user-tokens';

const POOL = 'eu-west-1_AbCdEfGhI';
const CLIENT = '3n4b5urk1ft4fl3mg5e62d9ado';
const ISSUER = `https://cognito-idp.eu-west-1.amazonaws.com/${POOL}`;

describe('Cognito access tokens (AWS runtime)', () => {
  let key: KeyLike;
  let tokens: CognitoUserTokens;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    key = pair.privateKey;
    tokens = new CognitoUserTokens(POOL, CLIENT);
    // The pool's JWKS, supplied instead of fetched: the same keys Cognito would publish.
    tokens.cacheJwks({
      keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] as never,
    });
  });

  const sign = (
    claims: Record<string, unknown>,
    options: { issuer?: string; expiresIn?: string; signer?: KeyLike } = {},
  ): Promise<string> =>
    new SignJWT({ token_use: 'access', client_id: CLIENT, username: 'ada', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(options.issuer ?? ISSUER)
      .setSubject('6f1c7a52-0000-4c55-9a0d-2f6b8d1e3c47')
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '1h')
      .sign(options.signer ?? key);

  const refusal = async (token: Promise<string>): Promise<string> => {
    try {
      await tokens.verify(await token);
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.Unauthenticated);
      return (error as DomainError).message;
    }
    throw new Error('the token was accepted');
  };

  it('accepts an access token of this pool and client, giving its subject and username', async () => {
    await expect(tokens.verify(await sign({}))).resolves.toEqual({
      subject: '6f1c7a52-0000-4c55-9a0d-2f6b8d1e3c47',
      email: null,
      displayName: 'ada',
    });
  });

  it('refuses id tokens, other clients, other pools, expired tokens and foreign signatures', async () => {
    const { privateKey: stranger } = await generateKeyPair('RS256');
    expect(await refusal(sign({ token_use: 'id' }))).toMatch(/not a valid Cognito access token/);
    expect(await refusal(sign({ client_id: 'another-client' }))).toMatch(/not a valid/);
    expect(await refusal(sign({}, { issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other' }))).toMatch(
      /not a valid/,
    );
    expect(await refusal(sign({}, { expiresIn: '-1m' }))).toMatch(/expired/);
    expect(await refusal(sign({}, { signer: stranger }))).toMatch(/not a valid/);
    expect(await refusal(Promise.resolve('not.a.jwt'))).toMatch(/not a valid/);
  });

  it('does not issue tokens: Cognito does', async () => {
    await expect(tokens.issue()).rejects.toThrow(/hosted UI/);
  });
});
