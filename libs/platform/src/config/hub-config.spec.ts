import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError, HubConfig, defaultConfigFile, defaultDataDir, loadHubSettings } from './hub-config';

const XDG = { XDG_DATA_HOME: '/srv/xdg-data', XDG_CONFIG_HOME: '/srv/xdg-config' };

/** What the SAM template gives every function: the required AWS settings only. */
const AWS_ENV = {
  MARVAIN_RUNTIME: 'aws',
  AWS_REGION: 'eu-west-1',
  MARVAIN_TRANSCRIPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
  MARVAIN_ACTION_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
  MARVAIN_AUDIT_BUCKET: 'marvain-audit-123456789012',
  MARVAIN_CONNECTIONS_TABLE: 'marvain-connections',
  MARVAIN_WS_ENDPOINT: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
};

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadHubSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadHubSettings', () => {
  it('runs a local hub on 127.0.0.1:8080 with embedded PGlite under the XDG data folder by default', () => {
    const settings = loadHubSettings({ ...XDG });
    expect(settings).toEqual({
      runtime: 'local',
      host: '127.0.0.1',
      port: 8080,
      dataDir: '/srv/xdg-data/marvain',
      configFile: '/srv/xdg-config/marvain/marvain-config.yaml',
      database: { kind: 'pglite', dataDir: '/srv/xdg-data/marvain/pglite' },
      logLevel: 'info',
      logFormat: 'auto',
      workers: true,
      queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 250 },
      auditDir: '/srv/xdg-data/marvain/audit',
      userTokenTtlSeconds: 30 * 24 * 3600,
      firstRunBootstrap: true,
      cliTimeoutSeconds: 15,
      streamRetentionDays: 7,
      livekitTokenTtlSeconds: 600,
      satelliteBundle: null,
    });
  });

  it('falls back to ~/.local/share and ~/.config without XDG variables', () => {
    const settings = loadHubSettings({});
    expect(settings.dataDir).toBe(path.join(homedir(), '.local', 'share', 'marvain'));
    expect(settings.configFile).toBe(path.join(homedir(), '.config', 'marvain', 'marvain-config.yaml'));
    expect(settings.database).toEqual({
      kind: 'pglite',
      dataDir: path.join(homedir(), '.local', 'share', 'marvain', 'pglite'),
    });
    expect(defaultDataDir({})).toBe(settings.dataDir);
    expect(defaultConfigFile({})).toBe(settings.configFile);
    // An empty XDG variable counts as unset.
    expect(defaultDataDir({ XDG_DATA_HOME: '' })).toBe(settings.dataDir);
  });

  it('reads the process environment when given none', () => {
    const before = process.env['MARVAIN_PORT'];
    process.env['MARVAIN_PORT'] = '9123';
    try {
      expect(loadHubSettings().port).toBe(9123);
    } finally {
      if (before === undefined) {
        delete process.env['MARVAIN_PORT'];
      } else {
        process.env['MARVAIN_PORT'] = before;
      }
    }
  });

  it('takes explicit settings from the environment', () => {
    const settings = loadHubSettings({
      ...XDG,
      MARVAIN_HOST: '0.0.0.0',
      MARVAIN_PORT: '9000',
      MARVAIN_DATA_DIR: '/var/lib/marvain',
      MARVAIN_CONFIG: '/etc/marvain.yaml',
      MARVAIN_LOG_LEVEL: 'debug',
      MARVAIN_LOG_FORMAT: 'json',
      MARVAIN_WORKERS: 'off',
      MARVAIN_FIRST_RUN_BOOTSTRAP: 'No',
      MARVAIN_QUEUE_VISIBILITY_SECONDS: '60',
      MARVAIN_QUEUE_MAX_RECEIVES: '3',
      MARVAIN_QUEUE_POLL_MS: '100',
    });
    expect(settings).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/var/lib/marvain',
      configFile: '/etc/marvain.yaml',
      database: { kind: 'pglite', dataDir: '/var/lib/marvain/pglite' },
      auditDir: '/var/lib/marvain/audit',
      logLevel: 'debug',
      logFormat: 'json',
      workers: false,
      firstRunBootstrap: false,
      queue: { visibilityTimeoutSeconds: 60, maxReceives: 3, pollIntervalMs: 100 },
    });
  });

  it('does not run workers or bootstrap by default on AWS', () => {
    const settings = loadHubSettings({ ...XDG, ...AWS_ENV, DATABASE_URL: 'postgres://db/marvain' });
    expect(settings.runtime).toBe('aws');
    expect(settings.workers).toBe(false);
    expect(settings.firstRunBootstrap).toBe(false);
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const url = 'postgres://marvain:secret@db.example:5432/marvain';
    expect(loadHubSettings({ ...XDG, DATABASE_URL: url, MARVAIN_PGLITE_DIR: 'memory' }).database).toEqual({
      kind: 'postgres',
      url,
    });
    expect(loadHubSettings({ ...XDG, DATABASE_URL: 'postgresql://db/x' }).database).toEqual({
      kind: 'postgres',
      url: 'postgresql://db/x',
    });
  });

  it('refuses a DATABASE_URL that is not a postgres URL', () => {
    expect(problemsOf({ ...XDG, DATABASE_URL: 'mysql://db/x' })).toEqual([expect.stringContaining('DATABASE_URL')]);
  });

  it('uses an in-memory PGlite when MARVAIN_PGLITE_DIR=memory, or the folder it names', () => {
    expect(loadHubSettings({ ...XDG, MARVAIN_PGLITE_DIR: 'memory' }).database).toEqual({
      kind: 'pglite',
      dataDir: 'memory',
    });
    expect(loadHubSettings({ ...XDG, MARVAIN_PGLITE_DIR: '/tmp/pg' }).database).toEqual({
      kind: 'pglite',
      dataDir: '/tmp/pg',
    });
  });

  it('uses the RDS Data API when a cluster ARN and secret ARN are given', () => {
    const settings = loadHubSettings({
      ...XDG,
      MARVAIN_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:123456789012:cluster:marvain',
      MARVAIN_DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marvain',
    });
    expect(settings.database).toEqual({
      kind: 'data-api',
      resourceArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:marvain',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:marvain',
      database: 'marvain',
    });
  });

  it('lists every problem at once in one ConfigError', () => {
    const env = {
      ...XDG,
      MARVAIN_PORT: '70000',
      MARVAIN_RUNTIME: 'cloud',
      MARVAIN_WORKERS: 'maybe',
      MARVAIN_DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:123456789012:cluster:marvain',
    };
    expect(() => loadHubSettings(env)).toThrow(ConfigError);
    const problems = problemsOf(env);
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/MARVAIN_PORT.*70000/),
        expect.stringMatching(/MARVAIN_RUNTIME.*cloud/),
        expect.stringMatching(/MARVAIN_WORKERS.*maybe/),
        expect.stringContaining('MARVAIN_DB_SECRET_ARN'),
      ]),
    );
    let message = '';
    try {
      loadHubSettings(env);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['MARVAIN_PORT', 'MARVAIN_RUNTIME', 'MARVAIN_WORKERS', 'MARVAIN_DB_SECRET_ARN']) {
      expect(message).toContain(name);
    }
  });

  it('reads the stream retention in days', () => {
    expect(loadHubSettings({ ...XDG, MARVAIN_STREAM_RETENTION_DAYS: '30' }).streamRetentionDays).toBe(30);
    expect(loadHubSettings({ ...XDG, MARVAIN_SATELLITE_BUNDLE: 'dist/s.cjs' }).satelliteBundle).toBe(
      path.resolve('dist/s.cjs'),
    );
  });

  it.each([
    ['MARVAIN_PORT', '-1'],
    ['MARVAIN_PORT', '80.5'],
    ['MARVAIN_PORT', 'http'],
    ['MARVAIN_QUEUE_MAX_RECEIVES', '0'],
    ['MARVAIN_QUEUE_VISIBILITY_SECONDS', '0'],
    ['MARVAIN_QUEUE_POLL_MS', '5'],
    ['MARVAIN_USER_TOKEN_TTL_SECONDS', '10'],
    ['MARVAIN_LOG_LEVEL', 'loud'],
    ['MARVAIN_LOG_FORMAT', 'xml'],
    ['MARVAIN_CLI_TIMEOUT_SECONDS', '0'],
    ['MARVAIN_STREAM_RETENTION_DAYS', '0'],
    ['MARVAIN_STREAM_RETENTION_DAYS', '1.5'],
    ['MARVAIN_FIRST_RUN_BOOTSTRAP', 'sometimes'],
  ])('refuses %s=%s', (name, value) => {
    expect(problemsOf({ ...XDG, [name]: value })).toEqual([expect.stringContaining(name)]);
  });
});

describe('loadHubSettings in the AWS runtime', () => {
  it('reads the required AWS settings, with governance-mode audit retention of 3650 days by default', () => {
    const settings = loadHubSettings({ ...XDG, ...AWS_ENV });
    expect(settings.aws).toStrictEqual({
      region: 'eu-west-1',
      queueUrls: {
        transcripts: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
        actions: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
      },
      deadLetterQueueUrls: {},
      audit: { bucket: 'marvain-audit-123456789012', lockMode: 'GOVERNANCE', retentionDays: 3650 },
      connectionsTable: 'marvain-connections',
      websocketEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
    });
  });

  it('reads every optional AWS setting', () => {
    const settings = loadHubSettings({
      ...XDG,
      ...AWS_ENV,
      MARVAIN_AUDIT_LOCK_MODE: 'COMPLIANCE',
      MARVAIN_AUDIT_RETENTION_DAYS: '1',
      MARVAIN_TRANSCRIPT_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts-dlq',
      MARVAIN_ACTION_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions-dlq',
      MARVAIN_ARTIFACT_BUCKET: 'marvain-artifacts-123456789012',
      MARVAIN_COGNITO_USER_POOL_ID: 'eu-west-1_AbCdEf123',
      MARVAIN_COGNITO_CLIENT_ID: '1h2j3k4l5m6n7o8p9q0r1s2t3u',
      // A trailing slash on the endpoint is dropped.
      MARVAIN_WS_ENDPOINT: 'https://ws.example.com/prod/',
    });
    expect(settings.aws).toStrictEqual({
      region: 'eu-west-1',
      queueUrls: {
        transcripts: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts',
        actions: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions',
      },
      deadLetterQueueUrls: {
        transcripts: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-transcripts-dlq',
        actions: 'https://sqs.eu-west-1.amazonaws.com/123456789012/marvain-actions-dlq',
      },
      audit: { bucket: 'marvain-audit-123456789012', lockMode: 'COMPLIANCE', retentionDays: 1 },
      connectionsTable: 'marvain-connections',
      websocketEndpoint: 'https://ws.example.com/prod',
      artifactBucket: 'marvain-artifacts-123456789012',
      cognito: { userPoolId: 'eu-west-1_AbCdEf123', clientId: '1h2j3k4l5m6n7o8p9q0r1s2t3u' },
    });
  });

  it('leaves out the AWS settings in the local runtime, even when AWS variables are set', () => {
    const settings = loadHubSettings({
      ...XDG,
      ...AWS_ENV,
      MARVAIN_RUNTIME: 'local',
      MARVAIN_AUDIT_LOCK_MODE: 'bogus',
    });
    expect(settings.runtime).toBe('local');
    expect('aws' in settings).toBe(false);
    expect('aws' in loadHubSettings({ ...XDG })).toBe(false);
  });

  it('names every missing required AWS variable at once', () => {
    const problems = problemsOf({ ...XDG, MARVAIN_RUNTIME: 'aws' });
    const missing = [
      'AWS_REGION',
      'MARVAIN_TRANSCRIPT_QUEUE_URL',
      'MARVAIN_ACTION_QUEUE_URL',
      'MARVAIN_AUDIT_BUCKET',
      'MARVAIN_CONNECTIONS_TABLE',
      'MARVAIN_WS_ENDPOINT',
    ];
    expect([...problems].sort()).toEqual(missing.map((name) => `${name} is required when MARVAIN_RUNTIME=aws`).sort());
  });

  it('lists every invalid AWS value at once, next to the other problems', () => {
    const problems = problemsOf({
      ...XDG,
      ...AWS_ENV,
      MARVAIN_PORT: 'x',
      AWS_REGION: 'Europe',
      MARVAIN_TRANSCRIPT_QUEUE_URL: 'http://sqs.eu-west-1.amazonaws.com/1/q',
      MARVAIN_ACTION_QUEUE_URL: 'marvain-actions',
      MARVAIN_AUDIT_BUCKET: 'Marvain_Audit',
      MARVAIN_AUDIT_LOCK_MODE: 'governance-ish',
      MARVAIN_AUDIT_RETENTION_DAYS: '0',
      MARVAIN_CONNECTIONS_TABLE: 'a b',
      MARVAIN_WS_ENDPOINT: 'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
      MARVAIN_ACTION_DLQ_URL: 'https://sqs.example/q?x=1',
      MARVAIN_ARTIFACT_BUCKET: 'ab',
      MARVAIN_COGNITO_USER_POOL_ID: 'pool',
      MARVAIN_COGNITO_CLIENT_ID: 'not/valid',
    });
    const names = [
      'MARVAIN_PORT',
      'AWS_REGION',
      'MARVAIN_TRANSCRIPT_QUEUE_URL',
      'MARVAIN_ACTION_QUEUE_URL',
      'MARVAIN_AUDIT_BUCKET',
      'MARVAIN_AUDIT_LOCK_MODE',
      'MARVAIN_AUDIT_RETENTION_DAYS',
      'MARVAIN_CONNECTIONS_TABLE',
      'MARVAIN_WS_ENDPOINT',
      'MARVAIN_ACTION_DLQ_URL',
      'MARVAIN_ARTIFACT_BUCKET',
      'MARVAIN_COGNITO_USER_POOL_ID',
      'MARVAIN_COGNITO_CLIENT_ID',
    ];
    expect(problems).toHaveLength(names.length);
    for (const name of names) {
      expect(problems.filter((p) => p.startsWith(`${name} `))).toHaveLength(1);
    }
  });

  it.each([
    ['AWS_REGION', 'eu-west'],
    ['MARVAIN_TRANSCRIPT_QUEUE_URL', 'https://user:pw@sqs.eu-west-1.amazonaws.com/1/q'],
    ['MARVAIN_AUDIT_BUCKET', 'a..b'],
    ['MARVAIN_AUDIT_LOCK_MODE', 'compliance'],
    ['MARVAIN_AUDIT_RETENTION_DAYS', '3650.5'],
    ['MARVAIN_AUDIT_RETENTION_DAYS', '36501'],
    ['MARVAIN_WS_ENDPOINT', 'not a url'],
    ['MARVAIN_WS_ENDPOINT', 'https://abc.execute-api.eu-west-1.amazonaws.com/prod#x'],
  ])('refuses %s=%s in the AWS runtime', (name, value) => {
    const problems = problemsOf({ ...XDG, ...AWS_ENV, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.startsWith(`${name} `)).toBe(true);
    expect(problems[0]).toContain(`(got "${value}")`);
  });

  it('takes explicit AWS settings as an override', () => {
    const aws = { ...loadHubSettings({ ...XDG, ...AWS_ENV }).aws!, region: 'us-east-1' };
    expect(loadHubSettings({ ...XDG, ...AWS_ENV }, { aws }).aws?.region).toBe('us-east-1');
  });
});

describe('LiveKit settings', () => {
  const LIVEKIT = { LIVEKIT_URL: 'wss://rooms.example.test/', LIVEKIT_API_KEY: 'APIkey', LIVEKIT_API_SECRET: 's3cret' };

  it('reads all three LiveKit variables, and a token TTL of 600 s by default', () => {
    const settings = loadHubSettings({ ...XDG, ...LIVEKIT });
    expect(settings.livekit).toEqual({ url: 'wss://rooms.example.test', apiKey: 'APIkey', apiSecret: 's3cret' });
    expect(settings.livekitTokenTtlSeconds).toBe(600);
    expect(loadHubSettings({ ...XDG, MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS: '60' }).livekitTokenTtlSeconds).toBe(60);
  });

  it('leaves LiveKit unconfigured when none of the three is set (empty counts as unset)', () => {
    expect(loadHubSettings({ ...XDG }).livekit).toBeUndefined();
    expect(
      loadHubSettings({ ...XDG, LIVEKIT_URL: '', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' }).livekit,
    ).toBeUndefined();
  });

  it('refuses a partial set, naming what is missing next to the other problems, and never the secret', () => {
    const problems = problemsOf({
      ...XDG,
      LIVEKIT_URL: 'wss://rooms.example.test',
      LIVEKIT_API_SECRET: 's3cret',
      MARVAIN_PORT: 'x',
    });
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('LiveKit'))).toContain('missing LIVEKIT_API_KEY');
    expect(problems.join('\n')).not.toContain('s3cret');
  });

  it.each([
    ['LIVEKIT_URL', 'rooms.example.test'],
    ['LIVEKIT_URL', 'ftp://rooms.example.test'],
    ['LIVEKIT_URL', 'wss://key:secret@rooms.example.test'],
    ['MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS', '59'],
    ['MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS', '86401'],
  ])('refuses %s=%s', (name, value) => {
    const problems = problemsOf({ ...XDG, ...LIVEKIT, [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.startsWith(`${name} `)).toBe(true);
  });
});

describe('HubConfig', () => {
  it('is a read-only copy of the settings', () => {
    const config = new HubConfig(loadHubSettings({ ...XDG }));
    expect(config.port).toBe(8080);
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
