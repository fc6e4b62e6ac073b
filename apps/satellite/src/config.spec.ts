import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  defaultConfigFile,
  initConfig,
  mergeSettings,
  parseConfig,
  readConfig,
  SatelliteConfigError,
  stateFileFor,
  webSocketUrl,
  writePrivateFileAtomic,
} from './config';

const TOKEN = `mvd_${'a'.repeat(43)}`;
const SPACE = '0b6f3c3e-6d3f-4d59-9a53-2f1c8a0e7d11';

describe('satellite config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'marvain-satellite-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lives in the XDG config folder, and the state file beside it', () => {
    expect(defaultConfigFile({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/ada' })).toBe('/x/conf/marvain/satellite.json');
    expect(defaultConfigFile({ HOME: '/home/ada' })).toBe('/home/ada/.config/marvain/satellite.json');
    expect(stateFileFor('/x/conf/marvain/satellite.json')).toBe('/x/conf/marvain/satellite-state.json');
  });

  it('init writes the config with mode 0600 and refuses to overwrite it without --force', () => {
    const file = path.join(dir, 'marvain', 'satellite.json');
    const config = initConfig(file, {
      hubUrl: 'http://192.168.1.10:8080/',
      token: TOKEN,
      spaceId: SPACE,
      force: false,
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readConfig(file)).toEqual(config);
    expect(config).toMatchObject({ hub_url: 'http://192.168.1.10:8080', token: TOKEN, space_id: SPACE, commands: {} });

    expect(() => initConfig(file, { hubUrl: 'http://other:8080', token: TOKEN, force: false })).toThrow(
      /already exists; pass --force/,
    );
    expect(readConfig(file).hub_url).toBe('http://192.168.1.10:8080');

    // --force keeps the operator's command list and settings.
    const withCommands = {
      ...config,
      commands: { uptime: { argv: ['uptime'], timeout_ms: 10000, max_output_bytes: 65536, allow_args: false } },
    };
    writeFileSync(file, JSON.stringify(withCommands));
    const replaced = initConfig(file, { hubUrl: 'https://hub.example.com', token: TOKEN, force: true });
    expect(replaced).toMatchObject({
      hub_url: 'https://hub.example.com',
      space_id: null,
      commands: withCommands.commands,
    });
  });

  it('writes atomically: the whole new file replaces the old one (0600 even over a 0644 file), no temporary file left', () => {
    const file = path.join(dir, 'state.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    writePrivateFileAtomic(file, 'new contents');
    expect(readFileSync(file, 'utf8')).toBe('new contents');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('refuses a hub URL that is not http(s)/ws(s), and a token that is not a device token', () => {
    const file = path.join(dir, 's.json');
    expect(() => initConfig(file, { hubUrl: 'ftp://hub', token: TOKEN, force: false })).toThrow(
      /http, https, ws or wss/,
    );
    expect(() => initConfig(file, { hubUrl: 'not a url', token: TOKEN, force: false })).toThrow(/is not a URL/);
    expect(() => initConfig(file, { hubUrl: 'http://u:p@hub', token: TOKEN, force: false })).toThrow(/credentials/);
    expect(() => initConfig(file, { hubUrl: 'http://hub', token: 'mvu_abc', force: false })).toThrow(
      /not a device token/,
    );
    expect(() => initConfig(file, { hubUrl: 'http://hub', token: TOKEN, spaceId: 'home', force: false })).toThrow(
      /--space-id must be a UUID/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('derives the WebSocket URL the hub serves', () => {
    expect(webSocketUrl('http://127.0.0.1:8080')).toBe('ws://127.0.0.1:8080/v1/ws');
    expect(webSocketUrl('https://hub.example.com/base/')).toBe('wss://hub.example.com/base/v1/ws');
    expect(webSocketUrl('wss://abc.execute-api.eu-west-1.amazonaws.com/prod')).toBe(
      'wss://abc.execute-api.eu-west-1.amazonaws.com/prod',
    );
    expect(webSocketUrl('ws://hub:8080')).toBe('ws://hub:8080/v1/ws');
  });

  it('checks each command and fills in its defaults', () => {
    const base = { hub_url: 'http://hub', token: TOKEN };
    expect(parseConfig({ ...base, commands: { uptime: { argv: ['uptime'] } } }, 'f').commands['uptime']).toEqual({
      argv: ['uptime'],
      timeout_ms: 10000,
      max_output_bytes: 65536,
      allow_args: false,
    });
    expect(() => parseConfig({ ...base, commands: { up: { argv: 'uptime -p' } } }, 'f')).toThrow(
      /f: commands.up.argv must be a list/,
    );
    expect(() => parseConfig({ ...base, commands: { up: { argv: ['x'], timeout_ms: 0 } } }, 'f')).toThrow(/timeout_ms/);
    expect(() => parseConfig({ ...base, commands: { 'no spaces': { argv: ['x'] } } }, 'f')).toThrow(/command name/);
    expect(() => parseConfig({ token: TOKEN }, 'f')).toThrow(SatelliteConfigError);
  });

  it('cmd.config merges only the allowed settings, never the token, hub URL or commands', () => {
    const config = parseConfig({ hub_url: 'http://hub', token: TOKEN, commands: { a: { argv: ['true'] } } }, 'f');
    const merged = mergeSettings(config, { space_id: SPACE, verbose: true, capabilities: { microphone: true } });
    expect(merged).toMatchObject({
      hub_url: 'http://hub',
      token: TOKEN,
      space_id: SPACE,
      capabilities: { microphone: true },
      settings: { verbose: true, print_replies: true },
      commands: config.commands,
    });
    expect(() => mergeSettings(config, { token: 'x', verbose: true })).toThrow(/refused: token/);
    expect(() => mergeSettings(config, { commands: {} })).toThrow(/refused: commands/);
    expect(() => mergeSettings(config, { hub_url: 'http://evil' })).toThrow(/refused: hub_url/);
    expect(() => mergeSettings(config, { verbose: 'yes' })).toThrow(/verbose must be true or false/);
    expect(() => mergeSettings(config, {})).toThrow(/non-empty object/);
  });
});
