import {
  GetSecretValueCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { readLivekitSecret } from './livekit-secret';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marvain/livekit-AbCdEf';

const secrets = mockClient(SecretsManagerClient);

const serviceError = (name: string, message: string) =>
  new SecretsManagerServiceException({ name, message, $fault: 'client', $metadata: { httpStatusCode: 400 } });

const read = () => readLivekitSecret(ARN, new SecretsManagerClient({ region: 'eu-west-1' }));

beforeEach(() => secrets.reset());

describe('readLivekitSecret', () => {
  it('reads the secret once, by its ARN, and gives its values as the LiveKit variables', async () => {
    secrets.on(GetSecretValueCommand).resolves({
      ARN,
      SecretString: JSON.stringify({ url: 'wss://rooms.example.com', api_key: 'APIkey', api_secret: 'shh' }),
    });
    expect(await read()).toEqual({
      env: { LIVEKIT_URL: 'wss://rooms.example.com', LIVEKIT_API_KEY: 'APIkey', LIVEKIT_API_SECRET: 'shh' },
      problems: [],
    });
    expect(secrets.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([{ SecretId: ARN }]);
  });

  it('gives empty values for the secret the stack creates (LiveKit not configured), and for missing keys', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"url":"","api_key":"","api_secret":""}' });
    expect(await read()).toEqual({
      env: { LIVEKIT_URL: '', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' },
      problems: [],
    });
    // A partial set is left to the config loader, which reports it as it does for the variables.
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"url":"wss://rooms.example.com"}' });
    expect(await read()).toEqual({
      env: { LIVEKIT_URL: 'wss://rooms.example.com', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' },
      problems: [],
    });
  });

  it.each([
    ['malformed JSON', '{"url": "wss://rooms.example.com", api_secret: "hunter2"', 'is not JSON'],
    ['a JSON array', '["wss://rooms.example.com", "hunter2"]', 'is not a JSON object'],
    ['a JSON string', '"hunter2"', 'is not a JSON object'],
  ])('reports %s as a configuration problem that names the secret, never its content', async (_what, value, says) => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: value });
    const result = await read();
    expect(result.env).toEqual({});
    expect(result.problems).toEqual([expect.stringContaining(`LIVEKIT_SECRET_ARN: the secret ${ARN} ${says}`)]);
    expect(result.problems[0]).toContain('"api_secret"');
    expect(result.problems[0]).not.toContain('hunter2');
  });

  it('reports a value that is not a string, and a binary secret', async () => {
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: '{"url":"wss://x.example","api_key":7,"api_secret":"s"}' });
    expect((await read()).problems).toEqual([`LIVEKIT_SECRET_ARN: "api_key" in the secret ${ARN} must be a string`]);

    secrets.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    expect((await read()).problems).toEqual([expect.stringContaining(`the secret ${ARN} has no SecretString`)]);
  });

  it('reports access denied with the permission the role lacks', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        serviceError('AccessDeniedException', 'User is not authorized to perform: secretsmanager:GetSecretValue'),
      );
    const result = await read();
    expect(result.env).toEqual({});
    expect(result.problems).toEqual([
      `LIVEKIT_SECRET_ARN: cannot read the secret ${ARN}: access denied (the function's role needs secretsmanager:GetSecretValue on it): User is not authorized to perform: secretsmanager:GetSecretValue`,
    ]);
  });

  it('reports a missing secret, and any other failure by its name', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(serviceError('ResourceNotFoundException', 'Secrets Manager can’t find it'));
    expect((await read()).problems).toEqual([
      `LIVEKIT_SECRET_ARN: cannot read the secret ${ARN}: no such secret: Secrets Manager can’t find it`,
    ]);
    secrets.on(GetSecretValueCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'));
    expect((await read()).problems).toEqual([
      `LIVEKIT_SECRET_ARN: cannot read the secret ${ARN}: ThrottlingException: Rate exceeded`,
    ]);
  });

  it('refuses a value that is not a Secrets Manager ARN without calling AWS', async () => {
    expect(
      (await readLivekitSecret('marvain/livekit', new SecretsManagerClient({ region: 'eu-west-1' }))).problems,
    ).toEqual(['LIVEKIT_SECRET_ARN must be the ARN of a Secrets Manager secret (got "marvain/livekit")']);
    expect(secrets.calls()).toHaveLength(0);
  });
});
