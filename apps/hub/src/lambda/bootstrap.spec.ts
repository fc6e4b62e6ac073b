import { ConfigError } from '@marvain/platform';
import type { LivekitSecretSettings } from '@marvain/platform-aws';
import { lambdaConfigWithSecrets } from './bootstrap';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marvain/livekit-AbCdEf';

/** What the template gives the http function. */
const AWS_ENV: NodeJS.ProcessEnv = {
  MARVAIN_RUNTIME: 'aws',
  MARVAIN_LOG_LEVEL: 'silent',
  AWS_REGION: 'eu-west-1',
  MARVAIN_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:123456789012:cluster:marvain',
  MARVAIN_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds-db-AbCdEf',
  MARVAIN_DB_NAME: 'marvain',
  MARVAIN_TRANSCRIPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
  MARVAIN_ACTION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
  MARVAIN_AUDIT_BUCKET: 'marvain-audit-123456789012',
  MARVAIN_CONNECTIONS_TABLE: 'marvain-connections',
  MARVAIN_WS_ENDPOINT: 'https://w7c4n1m8zd.execute-api.eu-west-1.amazonaws.com/prod',
  MARVAIN_COGNITO_USER_POOL_ID: 'eu-west-1_Marvain01',
  MARVAIN_COGNITO_CLIENT_ID: '4s5marvainlambdatestclient',
  LIVEKIT_SECRET_ARN: SECRET_ARN,
};

/** A secret read that answers `settings`, recording which ARNs it was asked for. */
function secretOf(settings: LivekitSecretSettings) {
  const asked: string[] = [];
  const read = (arn: string) => {
    asked.push(arn);
    return Promise.resolve(settings);
  };
  return { asked, read };
}

/** The problems of the ConfigError `run` throws, and the fatal line it logs. */
async function problemsOf(run: () => Promise<unknown>): Promise<{ problems: string[]; logged: string }> {
  const lines: string[] = [];
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return { problems: (error as ConfigError).problems, logged: lines.join('') };
  } finally {
    write.mockRestore();
  }
}

describe('lambdaConfigWithSecrets', () => {
  it('configures LiveKit from the secret named by LIVEKIT_SECRET_ARN', async () => {
    const secret = secretOf({
      env: { LIVEKIT_URL: 'wss://rooms.example.com', LIVEKIT_API_KEY: 'APIkey', LIVEKIT_API_SECRET: 'shh' },
      problems: [],
    });
    const config = await lambdaConfigWithSecrets('http', AWS_ENV, secret.read);
    expect(config.livekit).toEqual({ url: 'wss://rooms.example.com', apiKey: 'APIkey', apiSecret: 'shh' });
    expect(secret.asked).toEqual([SECRET_ARN]);
  });

  it('leaves LiveKit unconfigured when the secret is empty, and reads nothing without LIVEKIT_SECRET_ARN', async () => {
    const empty = secretOf({ env: { LIVEKIT_URL: '', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' }, problems: [] });
    expect((await lambdaConfigWithSecrets('http', AWS_ENV, empty.read)).livekit).toBeUndefined();

    const unused = secretOf({ env: {}, problems: [] });
    const { LIVEKIT_SECRET_ARN: _arn, ...withoutSecret } = AWS_ENV;
    expect((await lambdaConfigWithSecrets('ws', withoutSecret, unused.read)).livekit).toBeUndefined();
    expect(unused.asked).toEqual([]);
  });

  it('reports a partial secret with every other configuration problem, in one fatal log line', async () => {
    const partial = secretOf({
      env: { LIVEKIT_URL: 'wss://rooms.example.com', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' },
      problems: [],
    });
    const { problems, logged } = await problemsOf(() =>
      lambdaConfigWithSecrets('http', { ...AWS_ENV, MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS: '5' }, partial.read),
    );
    expect(problems).toEqual([
      expect.stringContaining('missing LIVEKIT_API_KEY, LIVEKIT_API_SECRET'),
      expect.stringContaining('MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS'),
    ]);
    expect(JSON.parse(logged)).toMatchObject({ level: 'fatal', entry: 'http', problems });
  });

  it('reports a secret it could not read with the other problems, never a secret value', async () => {
    const denied = secretOf({
      env: {},
      problems: [`LIVEKIT_SECRET_ARN: cannot read the secret ${SECRET_ARN}: access denied`],
    });
    const { problems } = await problemsOf(() =>
      lambdaConfigWithSecrets('http', { ...AWS_ENV, MARVAIN_AUDIT_BUCKET: '' }, denied.read),
    );
    expect(problems).toEqual([
      `LIVEKIT_SECRET_ARN: cannot read the secret ${SECRET_ARN}: access denied`,
      expect.stringContaining('MARVAIN_AUDIT_BUCKET'),
    ]);
  });
});
