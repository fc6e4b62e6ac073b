import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** One local command the operator allows the hub to run (`cmd.run_action {name}`): an argv, never a shell line. */
export interface LocalCommand {
  argv: string[];
  timeout_ms: number;
  max_output_bytes: number;
  /** Whether `cmd.run_action` may append its `args` to `argv`. */
  allow_args: boolean;
}

/** Settings the hub may change with `cmd.config` (besides `space_id` and `capabilities`). */
export interface SatelliteSettings {
  /** Log every frame sent and received (the token in `hello` is masked). */
  verbose: boolean;
  /** Print `message.outbound` events of the satellite's space to stdout. */
  print_replies: boolean;
}

/** The satellite's config file (JSON, mode 0600). */
export interface SatelliteConfig {
  /** The hub's base URL as the operator gave it (http, https, ws or wss). */
  hub_url: string;
  /** The device token (`mvd_…`). */
  token: string;
  /** The space this satellite is in: its heartbeats and typed lines go there. */
  space_id: string | null;
  capabilities: Record<string, unknown>;
  commands: Record<string, LocalCommand>;
  settings: SatelliteSettings;
}

export class SatelliteConfigError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'SatelliteConfigError';
  }
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 65_536;
export const MAX_COMMAND_TIMEOUT_MS = 3_600_000;
export const MAX_OUTPUT_BYTES_LIMIT = 16 * 1024 * 1024;
export const DEFAULT_SETTINGS: SatelliteSettings = { verbose: false, print_replies: true };

/** What `cmd.config` may change; never the token, the hub URL or the command list. */
export const CONFIGURABLE_KEYS = ['space_id', 'capabilities', 'verbose', 'print_replies'] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEVICE_TOKEN = /^mvd_[A-Za-z0-9_-]{43}$/;
const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** `$XDG_CONFIG_HOME/marvain/satellite.json`, or `~/.config/marvain/satellite.json`. */
export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(env['HOME'] || homedir(), '.config');
  return path.join(base, 'marvain', 'satellite.json');
}

/** The state file the daemon keeps beside its config: `satellite.json` → `satellite-state.json`. */
export function stateFileFor(configFile: string): string {
  const parsed = path.parse(configFile);
  return path.join(parsed.dir, `${parsed.ext === '.json' ? parsed.name : parsed.base}-state.json`);
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The WebSocket URL for a hub URL: `http(s)://host[/base]` → `ws(s)://host[/base]/v1/ws` (the local
 * hub and any HTTP front of it); a `ws(s)://` URL is used as given (the API Gateway WebSocket URL on
 * AWS), or with `/v1/ws` when it names no path.
 */
export function webSocketUrl(hubUrl: string): string {
  const url = parseHubUrl(hubUrl);
  const base = url.pathname.replace(/\/+$/, '');
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.pathname = `${base}/v1/ws`;
  } else if (base === '') {
    url.pathname = '/v1/ws';
  }
  return url.toString();
}

function parseHubUrl(hubUrl: string): URL {
  let url: URL;
  try {
    url = new URL(hubUrl);
  } catch {
    throw new SatelliteConfigError(`hub URL ${JSON.stringify(hubUrl)} is not a URL (e.g. http://192.168.1.10:8080)`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new SatelliteConfigError(`hub URL must be http, https, ws or wss, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new SatelliteConfigError('hub URL must not carry credentials, a query or a fragment');
  }
  return url;
}

/** The hub URL without a trailing slash, checked. */
export function normalizeHubUrl(hubUrl: string): string {
  parseHubUrl(hubUrl);
  return hubUrl.trim().replace(/\/+$/, '');
}

export function checkToken(token: string): string {
  const trimmed = token.trim();
  if (!DEVICE_TOKEN.test(trimmed)) {
    throw new SatelliteConfigError(
      'the token is not a device token (mvd_ followed by 43 characters); `marvain devices add-remote` prints one',
    );
  }
  return trimmed;
}

export function checkSpaceId(spaceId: unknown, where = 'space_id'): string | null {
  if (spaceId === null || spaceId === undefined) {
    return null;
  }
  if (typeof spaceId !== 'string' || !UUID.test(spaceId)) {
    throw new SatelliteConfigError(`${where} must be a UUID`);
  }
  return spaceId.toLowerCase();
}

function checkCommand(name: string, value: unknown): LocalCommand {
  const where = `commands.${name}`;
  if (!COMMAND_NAME.test(name)) {
    throw new SatelliteConfigError(`${where}: a command name is 1 to 64 letters, digits, '.', '_' or '-'`);
  }
  if (!isRecord(value)) {
    throw new SatelliteConfigError(`${where} must be an object with argv`);
  }
  const argv = value['argv'];
  if (
    !Array.isArray(argv) ||
    argv.length === 0 ||
    argv.length > 256 ||
    !argv.every((part): part is string => typeof part === 'string' && part.length > 0 && part.length <= 4096)
  ) {
    throw new SatelliteConfigError(`${where}.argv must be a list of 1 to 256 non-empty strings (no shell)`);
  }
  const int = (key: string, fallback: number, max: number): number => {
    const raw = value[key] ?? fallback;
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > max) {
      throw new SatelliteConfigError(`${where}.${key} must be a whole number from 1 to ${max}`);
    }
    return raw;
  };
  const allowArgs = value['allow_args'] ?? false;
  if (typeof allowArgs !== 'boolean') {
    throw new SatelliteConfigError(`${where}.allow_args must be true or false`);
  }
  return {
    argv: [...argv],
    timeout_ms: int('timeout_ms', DEFAULT_COMMAND_TIMEOUT_MS, MAX_COMMAND_TIMEOUT_MS),
    max_output_bytes: int('max_output_bytes', DEFAULT_MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES_LIMIT),
    allow_args: allowArgs,
  };
}

function checkCapabilities(value: unknown, where = 'capabilities'): Record<string, unknown> {
  if (value === undefined) {
    return {};
  }
  if (!isRecord(value) || JSON.stringify(value).length > 8192) {
    throw new SatelliteConfigError(`${where} must be a JSON object of at most 8 KiB`);
  }
  return value;
}

function checkBoolean(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'boolean') {
    throw new SatelliteConfigError(`${where} must be true or false`);
  }
  return value;
}

/** Checks a parsed config file; every field but hub_url and token has a default. */
export function parseConfig(raw: unknown, file: string): SatelliteConfig {
  try {
    if (!isRecord(raw)) {
      throw new SatelliteConfigError('the file must hold a JSON object');
    }
    if (typeof raw['hub_url'] !== 'string') {
      throw new SatelliteConfigError('hub_url is missing');
    }
    if (typeof raw['token'] !== 'string') {
      throw new SatelliteConfigError('token is missing');
    }
    const commands = raw['commands'] ?? {};
    if (!isRecord(commands) || Object.keys(commands).length > 256) {
      throw new SatelliteConfigError('commands must be an object of at most 256 named commands');
    }
    const settings = raw['settings'] ?? {};
    if (!isRecord(settings)) {
      throw new SatelliteConfigError('settings must be an object');
    }
    return {
      hub_url: normalizeHubUrl(raw['hub_url']),
      token: checkToken(raw['token']),
      space_id: checkSpaceId(raw['space_id']),
      capabilities: checkCapabilities(raw['capabilities']),
      commands: Object.fromEntries(Object.entries(commands).map(([name, value]) => [name, checkCommand(name, value)])),
      settings: {
        verbose: checkBoolean(settings['verbose'], 'settings.verbose', DEFAULT_SETTINGS.verbose),
        print_replies: checkBoolean(
          settings['print_replies'],
          'settings.print_replies',
          DEFAULT_SETTINGS.print_replies,
        ),
      },
    };
  } catch (error) {
    if (error instanceof SatelliteConfigError) {
      throw new SatelliteConfigError(`${file}: ${error.message}`, error.exitCode);
    }
    throw error;
  }
}

export function readConfig(file: string): SatelliteConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SatelliteConfigError(
        `no config at ${file}; run \`marvain-satellite init --hub-url URL --token TOKEN\``,
      );
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SatelliteConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseConfig(parsed, file);
}

/**
 * Writes `text` to `file` with mode 0600, atomically: a private temporary file in the same folder,
 * flushed, then renamed over the old one. A reader sees the old file or the new one, never half.
 */
export function writePrivateFileAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(partial, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

export function writeConfig(file: string, config: SatelliteConfig): void {
  writePrivateFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`);
}

export interface InitOptions {
  hubUrl: string;
  token: string;
  spaceId?: string;
  force: boolean;
}

/** `init`: a new config file (refused when one exists, unless `force`; commands and settings of the old one are kept). */
export function initConfig(file: string, options: InitOptions): SatelliteConfig {
  if (existsSync(file) && !options.force) {
    throw new SatelliteConfigError(`${file} already exists; pass --force to replace it`);
  }
  let previous: SatelliteConfig | null = null;
  try {
    previous = existsSync(file) ? readConfig(file) : null;
  } catch {
    previous = null; // replaced with --force: an unreadable old file keeps nothing
  }
  const config: SatelliteConfig = {
    hub_url: normalizeHubUrl(options.hubUrl),
    token: checkToken(options.token),
    space_id: checkSpaceId(options.spaceId, '--space-id'),
    capabilities: previous?.capabilities ?? {},
    commands: previous?.commands ?? {},
    settings: previous?.settings ?? { ...DEFAULT_SETTINGS },
  };
  webSocketUrl(config.hub_url);
  writeConfig(file, config);
  return config;
}

/**
 * Applies `cmd.config`'s settings: only CONFIGURABLE_KEYS, each checked; any other key refuses the
 * whole change. Returns the new config (not yet written).
 */
export function mergeSettings(config: SatelliteConfig, settings: unknown): SatelliteConfig {
  if (!isRecord(settings) || Object.keys(settings).length === 0) {
    throw new SatelliteConfigError('args.settings must be a non-empty object');
  }
  const refused = Object.keys(settings).filter((key) => !(CONFIGURABLE_KEYS as readonly string[]).includes(key));
  if (refused.length > 0) {
    throw new SatelliteConfigError(
      `cmd.config may change only ${CONFIGURABLE_KEYS.join(', ')}; refused: ${refused.join(', ')}`,
    );
  }
  return {
    ...config,
    space_id: 'space_id' in settings ? checkSpaceId(settings['space_id']) : config.space_id,
    capabilities: 'capabilities' in settings ? checkCapabilities(settings['capabilities']) : { ...config.capabilities },
    settings: {
      verbose: checkBoolean(settings['verbose'], 'verbose', config.settings.verbose),
      print_replies: checkBoolean(settings['print_replies'], 'print_replies', config.settings.print_replies),
    },
  };
}

/** The part of the config `cmd.config` may change, as its result reports it. */
export function configurableView(config: SatelliteConfig): Record<string, unknown> {
  return { space_id: config.space_id, capabilities: config.capabilities, ...config.settings };
}
