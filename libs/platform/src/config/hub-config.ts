import { homedir } from 'node:os';
import path from 'node:path';
import { QueueNames, type QueueName } from '@marvain/contracts';
import type { DatabaseTarget } from '@marvain/db';

export type Runtime = 'local' | 'aws';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** `auto`: short human lines on a terminal, JSON lines otherwise. */
export type LogFormat = 'json' | 'pretty' | 'auto';

/** Every setting the hub reads, validated once at start-up. Nothing else reads process.env. */
export interface HubSettings {
  runtime: Runtime;
  host: string;
  port: number;
  dataDir: string;
  configFile: string;
  database: DatabaseTarget;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Run the planner and tool-runner workers in this process (the local runtime does). */
  workers: boolean;
  queue: { visibilityTimeoutSeconds: number; maxReceives: number; pollIntervalMs: number };
  auditDir: string;
  userTokenTtlSeconds: number;
  /** Create an owner, agent, space and device on first start with an empty database. */
  firstRunBootstrap: boolean;
  /** MARVAIN_CLI_TIMEOUT_SECONDS: how long the CLI waits for a running hub's answer (its --timeout wins). */
  cliTimeoutSeconds: number;
  /** MARVAIN_STREAM_RETENTION_DAYS: agent stream entries older than this are deleted; a resume from before answers stream_expired. */
  streamRetentionDays: number;
  /** LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET: all three, or none (LiveKit not configured). */
  livekit?: LivekitSettings;
  /** MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS: how long a LiveKit join token is valid (60–86400, default 600). */
  livekitTokenTtlSeconds: number;
  /**
   * MARVAIN_SATELLITE_BUNDLE: the satellite daemon's one-file build that GET /v1/satellite/marvain-satellite.cjs
   * serves; null (the default) looks beside the hub's bundle and in `dist/satellite` of the working folder.
   */
  satelliteBundle: string | null;
  /** The AWS resources the adapters use; present exactly when `runtime` is `aws`. */
  aws?: AwsSettings;
}

/** The LiveKit server the hub mints join tokens for and takes webhooks from. */
export interface LivekitSettings {
  /** Where clients connect: ws(s):// or http(s)://. */
  url: string;
  apiKey: string;
  apiSecret: string;
}

export type AuditLockMode = 'GOVERNANCE' | 'COMPLIANCE';

/** Read from the environment the SAM template gives every function (MARVAIN_RUNTIME=aws). */
export interface AwsSettings {
  /** AWS_REGION (Lambda sets it). */
  region: string;
  /** MARVAIN_TRANSCRIPT_QUEUE_URL and MARVAIN_ACTION_QUEUE_URL: SQS queue URLs per queue name. */
  queueUrls: Record<QueueName, string>;
  /**
   * MARVAIN_TRANSCRIPT_DLQ_URL and MARVAIN_ACTION_DLQ_URL (optional): where a poison message is moved
   * at once. Without one, a poison message is left to the queue's redrive policy.
   */
  deadLetterQueueUrls: Partial<Record<QueueName, string>>;
  audit: {
    /** MARVAIN_AUDIT_BUCKET: an S3 bucket with Object Lock enabled. */
    bucket: string;
    /** MARVAIN_AUDIT_LOCK_MODE: GOVERNANCE (default) or COMPLIANCE. */
    lockMode: AuditLockMode;
    /** MARVAIN_AUDIT_RETENTION_DAYS: each object is retained this long from its write (default 3650). */
    retentionDays: number;
  };
  /** MARVAIN_CONNECTIONS_TABLE: DynamoDB table keyed by `connection_id`, TTL attribute `expires_at`. */
  connectionsTable: string;
  /** MARVAIN_WS_ENDPOINT: the API Gateway Management API endpoint, https://{api}.execute-api.{region}.amazonaws.com/{stage}. */
  websocketEndpoint: string;
  /** MARVAIN_ARTIFACT_BUCKET (optional). */
  artifactBucket?: string;
  /** MARVAIN_COGNITO_USER_POOL_ID and MARVAIN_COGNITO_CLIENT_ID (optional). */
  cognito?: { userPoolId?: string; clientId?: string };
}

/** Injectable, read-only view of the settings. */
export class HubConfig implements HubSettings {
  readonly runtime!: Runtime;
  readonly host!: string;
  readonly port!: number;
  readonly dataDir!: string;
  readonly configFile!: string;
  readonly database!: DatabaseTarget;
  readonly logLevel!: LogLevel;
  readonly logFormat!: LogFormat;
  readonly workers!: boolean;
  readonly queue!: HubSettings['queue'];
  readonly auditDir!: string;
  readonly userTokenTtlSeconds!: number;
  readonly firstRunBootstrap!: boolean;
  readonly cliTimeoutSeconds!: number;
  readonly streamRetentionDays!: number;
  readonly livekit?: LivekitSettings;
  readonly livekitTokenTtlSeconds!: number;
  readonly satelliteBundle!: string | null;
  readonly aws?: AwsSettings;

  constructor(settings: HubSettings) {
    Object.assign(this, settings);
    Object.freeze(this);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS: LogFormat[] = ['json', 'pretty', 'auto'];

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_DATA_HOME'] || path.join(homedir(), '.local', 'share'), 'marvain');
}

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env['XDG_CONFIG_HOME'] || path.join(homedir(), '.config'), 'marvain', 'marvain-config.yaml');
}

/** Reads and validates settings from the environment; lists every problem at once. */
export function loadHubSettings(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<HubSettings> = {},
): HubSettings {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      return fallback;
    }
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) {
      return true;
    }
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) {
      return false;
    }
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };

  const runtimeRaw = env['MARVAIN_RUNTIME'] || 'local';
  if (runtimeRaw !== 'local' && runtimeRaw !== 'aws') {
    problems.push(`MARVAIN_RUNTIME must be "local" or "aws" (got "${runtimeRaw}")`);
  }
  const runtime: Runtime = runtimeRaw === 'aws' ? 'aws' : 'local';

  const logLevelRaw = (env['MARVAIN_LOG_LEVEL'] || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevelRaw)) {
    problems.push(`MARVAIN_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevelRaw}")`);
  }
  const logFormatRaw = (env['MARVAIN_LOG_FORMAT'] || 'auto') as LogFormat;
  if (!LOG_FORMATS.includes(logFormatRaw)) {
    problems.push(`MARVAIN_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')} (got "${logFormatRaw}")`);
  }

  const dataDir = path.resolve(env['MARVAIN_DATA_DIR'] || defaultDataDir(env));
  const livekit = livekitSettings(env, problems);
  const database = databaseTarget(env, dataDir, problems);

  const settings: HubSettings = {
    runtime,
    host: env['MARVAIN_HOST'] || '127.0.0.1',
    port: int('MARVAIN_PORT', 8080, 0, 65535),
    dataDir,
    configFile: path.resolve(env['MARVAIN_CONFIG'] || defaultConfigFile(env)),
    database,
    logLevel: LOG_LEVELS.includes(logLevelRaw) ? logLevelRaw : 'info',
    logFormat: LOG_FORMATS.includes(logFormatRaw) ? logFormatRaw : 'auto',
    workers: bool('MARVAIN_WORKERS', runtime === 'local'),
    queue: {
      visibilityTimeoutSeconds: int('MARVAIN_QUEUE_VISIBILITY_SECONDS', 30, 1, 43_200),
      maxReceives: int('MARVAIN_QUEUE_MAX_RECEIVES', 5, 1, 1000),
      pollIntervalMs: int('MARVAIN_QUEUE_POLL_MS', 250, 10, 60_000),
    },
    auditDir: path.resolve(env['MARVAIN_AUDIT_DIR'] || path.join(dataDir, 'audit')),
    userTokenTtlSeconds: int('MARVAIN_USER_TOKEN_TTL_SECONDS', 30 * 24 * 3600, 60, 365 * 24 * 3600),
    firstRunBootstrap: bool('MARVAIN_FIRST_RUN_BOOTSTRAP', runtime === 'local'),
    cliTimeoutSeconds: int('MARVAIN_CLI_TIMEOUT_SECONDS', 15, 1, 3600),
    streamRetentionDays: int('MARVAIN_STREAM_RETENTION_DAYS', 7, 1, 3650),
    ...(livekit ? { livekit } : {}),
    livekitTokenTtlSeconds: int('MARVAIN_LIVEKIT_TOKEN_TTL_SECONDS', 600, 60, 86_400),
    satelliteBundle: env['MARVAIN_SATELLITE_BUNDLE'] ? path.resolve(env['MARVAIN_SATELLITE_BUNDLE']) : null,
    ...(runtime === 'aws' ? { aws: awsSettings(env, problems, int) } : {}),
    ...overrides,
  };
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return settings;
}

const LIVEKIT_VARIABLES = ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET'] as const;

/** All three LiveKit variables, or none of them (undefined: LiveKit is not configured). */
function livekitSettings(env: NodeJS.ProcessEnv, problems: string[]): LivekitSettings | undefined {
  const set = LIVEKIT_VARIABLES.filter((name) => (env[name] ?? '') !== '');
  if (set.length === 0) {
    return undefined;
  }
  if (set.length < LIVEKIT_VARIABLES.length) {
    const missing = LIVEKIT_VARIABLES.filter((name) => !set.includes(name));
    problems.push(`LiveKit needs all of ${LIVEKIT_VARIABLES.join(', ')} or none; missing ${missing.join(', ')}`);
    return undefined;
  }
  const url = env['LIVEKIT_URL'] as string;
  const problem = livekitUrl(url);
  if (problem) {
    // Not echoed: a URL with credentials in it would put them in the log.
    problems.push(`LIVEKIT_URL ${problem}`);
  }
  return {
    url: url.replace(/\/+$/, ''),
    apiKey: env['LIVEKIT_API_KEY'] as string,
    apiSecret: env['LIVEKIT_API_SECRET'] as string,
  };
}

function livekitUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a wss://, ws://, https:// or http:// URL';
  }
  if (!['wss:', 'ws:', 'https:', 'http:'].includes(url.protocol) || url.hostname === '') {
    return 'must be a wss://, ws://, https:// or http:// URL';
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    return 'must be a URL without query, fragment or credentials';
  }
  return null;
}

function databaseTarget(env: NodeJS.ProcessEnv, dataDir: string, problems: string[]): DatabaseTarget {
  const url = env['DATABASE_URL'];
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
    }
    return { kind: 'postgres', url };
  }
  const resourceArn = env['MARVAIN_DB_CLUSTER_ARN'];
  if (resourceArn) {
    const secretArn = env['MARVAIN_DB_SECRET_ARN'];
    const database = env['MARVAIN_DB_NAME'] || 'marvain';
    if (!secretArn) {
      problems.push('MARVAIN_DB_SECRET_ARN is required with MARVAIN_DB_CLUSTER_ARN');
    }
    return {
      kind: 'data-api',
      resourceArn,
      secretArn: secretArn ?? '',
      database,
      ...(env['MARVAIN_DATA_API_ENDPOINT'] ? { endpoint: env['MARVAIN_DATA_API_ENDPOINT'] } : {}),
    };
  }
  const pglite = env['MARVAIN_PGLITE_DIR'];
  return {
    kind: 'pglite',
    dataDir: pglite === 'memory' ? 'memory' : path.resolve(pglite || path.join(dataDir, 'pglite')),
  };
}

const AUDIT_LOCK_MODES: AuditLockMode[] = ['GOVERNANCE', 'COMPLIANCE'];

function awsSettings(
  env: NodeJS.ProcessEnv,
  problems: string[],
  int: (name: string, fallback: number, min: number, max: number) => number,
): AwsSettings {
  const required = (name: string, check: (value: string) => string | null): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      problems.push(`${name} is required when MARVAIN_RUNTIME=aws`);
      return '';
    }
    const problem = check(value);
    if (problem) {
      problems.push(`${name} ${problem} (got "${value}")`);
    }
    return value;
  };
  const optional = (name: string, check: (value: string) => string | null): string | undefined => {
    const value = env[name];
    if (value === undefined || value === '') {
      return undefined;
    }
    const problem = check(value);
    if (problem) {
      problems.push(`${name} ${problem} (got "${value}")`);
    }
    return value;
  };

  const lockModeRaw = env['MARVAIN_AUDIT_LOCK_MODE'] || 'GOVERNANCE';
  if (!AUDIT_LOCK_MODES.includes(lockModeRaw as AuditLockMode)) {
    problems.push(`MARVAIN_AUDIT_LOCK_MODE must be GOVERNANCE or COMPLIANCE (got "${lockModeRaw}")`);
  }
  const transcriptDlq = optional('MARVAIN_TRANSCRIPT_DLQ_URL', httpsUrl);
  const actionDlq = optional('MARVAIN_ACTION_DLQ_URL', httpsUrl);
  const artifactBucket = optional('MARVAIN_ARTIFACT_BUCKET', bucketName);
  const userPoolId = optional('MARVAIN_COGNITO_USER_POOL_ID', (v) =>
    /^[\w-]+_[0-9a-zA-Z]+$/.test(v) ? null : 'must be a Cognito user pool id such as eu-west-1_AbCdEf123',
  );
  const clientId = optional('MARVAIN_COGNITO_CLIENT_ID', (v) =>
    /^[\w+]+$/.test(v) ? null : 'must be a Cognito app client id',
  );

  return {
    region: required('AWS_REGION', (v) =>
      /^[a-z]{2}(-[a-z]+)+-\d+$/.test(v) ? null : 'must be an AWS region such as eu-west-1',
    ),
    queueUrls: {
      [QueueNames.Transcripts]: required('MARVAIN_TRANSCRIPT_QUEUE_URL', httpsUrl),
      [QueueNames.Actions]: required('MARVAIN_ACTION_QUEUE_URL', httpsUrl),
    },
    deadLetterQueueUrls: {
      ...(transcriptDlq ? { [QueueNames.Transcripts]: transcriptDlq } : {}),
      ...(actionDlq ? { [QueueNames.Actions]: actionDlq } : {}),
    },
    audit: {
      bucket: required('MARVAIN_AUDIT_BUCKET', bucketName),
      lockMode: AUDIT_LOCK_MODES.includes(lockModeRaw as AuditLockMode) ? (lockModeRaw as AuditLockMode) : 'GOVERNANCE',
      retentionDays: int('MARVAIN_AUDIT_RETENTION_DAYS', 3650, 1, 36_500),
    },
    connectionsTable: required('MARVAIN_CONNECTIONS_TABLE', (v) =>
      /^[\w.-]{3,255}$/.test(v) ? null : 'must be a DynamoDB table name',
    ),
    websocketEndpoint: required('MARVAIN_WS_ENDPOINT', httpsUrl).replace(/\/+$/, ''),
    ...(artifactBucket ? { artifactBucket } : {}),
    ...(userPoolId || clientId
      ? { cognito: { ...(userPoolId ? { userPoolId } : {}), ...(clientId ? { clientId } : {}) } }
      : {}),
  };
}

function httpsUrl(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an https:// URL';
  }
  if (url.protocol !== 'https:' || url.hostname === '') {
    return 'must be an https:// URL';
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    return 'must be an https:// URL without query, fragment or credentials';
  }
  return null;
}

function bucketName(value: string): string | null {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value) && !value.includes('..') ? null : 'must be an S3 bucket name';
}
