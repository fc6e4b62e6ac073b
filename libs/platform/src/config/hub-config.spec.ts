import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError, HubConfig, defaultConfigFile, defaultDataDir, loadHubSettings } from './hub-config';

const XDG = { XDG_DATA_HOME: '/srv/xdg-data', XDG_CONFIG_HOME: '/srv/xdg-config' };

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
      workers: true,
      queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 250 },
      auditDir: '/srv/xdg-data/marvain/audit',
      userTokenTtlSeconds: 30 * 24 * 3600,
      firstRunBootstrap: true,
    });
  });

  it('falls back to ~/.local/share and ~/.config without XDG variables', () => {
    const settings = loadHubSettings({});
    expect(settings.dataDir).toBe(path.join(homedir(), '.local', 'share', 'marvain'));
    expect(settings.configFile).toBe(path.join(homedir(), '.config', 'marvain', 'marvain-config.yaml'));
    expect(settings.database).toEqual({ kind: 'pglite', dataDir: path.join(homedir(), '.local', 'share', 'marvain', 'pglite') });
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
      if (before === undefined) delete process.env['MARVAIN_PORT'];
      else process.env['MARVAIN_PORT'] = before;
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
      workers: false,
      firstRunBootstrap: false,
      queue: { visibilityTimeoutSeconds: 60, maxReceives: 3, pollIntervalMs: 100 },
    });
  });

  it('does not run workers or bootstrap by default on AWS', () => {
    const settings = loadHubSettings({ ...XDG, MARVAIN_RUNTIME: 'aws', DATABASE_URL: 'postgres://db/marvain' });
    expect(settings.runtime).toBe('aws');
    expect(settings.workers).toBe(false);
    expect(settings.firstRunBootstrap).toBe(false);
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const url = 'postgres://marvain:secret@db.example:5432/marvain';
    expect(loadHubSettings({ ...XDG, DATABASE_URL: url, MARVAIN_PGLITE_DIR: 'memory' }).database).toEqual({ kind: 'postgres', url });
    expect(loadHubSettings({ ...XDG, DATABASE_URL: 'postgresql://db/x' }).database).toEqual({ kind: 'postgres', url: 'postgresql://db/x' });
  });

  it('refuses a DATABASE_URL that is not a postgres URL', () => {
    expect(problemsOf({ ...XDG, DATABASE_URL: 'mysql://db/x' })).toEqual([expect.stringContaining('DATABASE_URL')]);
  });

  it('uses an in-memory PGlite when MARVAIN_PGLITE_DIR=memory, or the folder it names', () => {
    expect(loadHubSettings({ ...XDG, MARVAIN_PGLITE_DIR: 'memory' }).database).toEqual({ kind: 'pglite', dataDir: 'memory' });
    expect(loadHubSettings({ ...XDG, MARVAIN_PGLITE_DIR: '/tmp/pg' }).database).toEqual({ kind: 'pglite', dataDir: '/tmp/pg' });
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
    for (const name of ['MARVAIN_PORT', 'MARVAIN_RUNTIME', 'MARVAIN_WORKERS', 'MARVAIN_DB_SECRET_ARN']) expect(message).toContain(name);
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
    ['MARVAIN_FIRST_RUN_BOOTSTRAP', 'sometimes'],
  ])('refuses %s=%s', (name, value) => {
    expect(problemsOf({ ...XDG, [name]: value })).toEqual([expect.stringContaining(name)]);
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
