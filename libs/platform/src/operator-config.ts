import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { ConfigError, defaultConfigFile, HubConfig, loadHubSettings, type HubSettings } from './config/hub-config';

/** One bootstrapped agent's credentials, kept under `agents.<agent_id>` so a later bootstrap never loses them. */
export interface OperatorAgentEntry {
  name?: string;
  space_id?: string;
  device_id?: string;
  device_token?: string;
  user_id?: string;
}

/**
 * What the operator's config file records about their hub. It holds credentials: mode 0600.
 * The top-level agent keys name the default agent (the hub's first-run agent, or the one
 * `marvain bootstrap` created last); `agents` keeps every agent's credentials.
 */
export interface OperatorConfig {
  hub_url?: string;
  agent_id?: string;
  space_id?: string;
  device_id?: string;
  device_token?: string;
  user_id?: string;
  user_token?: string;
  agents?: Record<string, OperatorAgentEntry>;
  [key: string]: unknown;
}

const HEADER =
  '# Marvain operator config. It contains credentials: keep it private (the hub writes it with mode 0600).\n';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ID_KEYS = ['agent_id', 'space_id', 'device_id', 'user_id'] as const;
const TEXT_KEYS = ['device_token', 'user_token', 'name'] as const;

/** Every problem with a parsed config file, each naming the file and the key. */
function problemsOf(file: string, config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const check = (where: string, values: Record<string, unknown>): void => {
    for (const key of ID_KEYS) {
      const value = values[key];
      if (value !== undefined && (typeof value !== 'string' || !UUID.test(value))) {
        problems.push(`${file}: ${where}${key} must be a UUID (got ${JSON.stringify(value)})`);
      }
    }
    for (const key of TEXT_KEYS) {
      const value = values[key];
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        problems.push(`${file}: ${where}${key} must be a non-empty string`);
      }
    }
  };
  check('', config);
  const hubUrl = config['hub_url'];
  if (hubUrl !== undefined && (typeof hubUrl !== 'string' || !/^https?:\/\/[^\s/]+/.test(hubUrl))) {
    problems.push(`${file}: hub_url must be an http:// or https:// URL (got ${JSON.stringify(hubUrl)})`);
  }
  const agents = config['agents'];
  if (agents !== undefined && agents !== null) {
    if (typeof agents !== 'object' || Array.isArray(agents)) {
      problems.push(`${file}: agents must be a mapping of agent ids to their credentials`);
    } else {
      for (const [agentId, entry] of Object.entries(agents)) {
        if (!UUID.test(agentId)) {
          problems.push(`${file}: agents.${agentId} must be keyed by a UUID agent id`);
        }
        if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
          problems.push(`${file}: agents.${agentId} must be a mapping`);
        } else {
          check(`agents.${agentId}.`, entry as Record<string, unknown>);
        }
      }
    }
  }
  return problems;
}

/**
 * Reads and validates the operator's config file (null when there is none). Every problem is
 * listed at once, naming the file, as a ConfigError.
 */
export async function readOperatorConfig(file: string): Promise<OperatorConfig | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw new ConfigError([`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (error) {
    throw new ConfigError([
      `${file}: is not valid YAML (${error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)})`,
    ]);
  }
  if (parsed === null || parsed === undefined) {
    return {};
  }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`${file}: must be a YAML mapping of keys to values`]);
  }
  const problems = problemsOf(file, parsed as Record<string, unknown>);
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return parsed as OperatorConfig;
}

/** Merges `values` into the file (keeping keys it does not name), atomically, with mode 0600. */
export async function writeOperatorConfig(file: string, values: OperatorConfig): Promise<OperatorConfig> {
  const merged = { ...((await readOperatorConfig(file)) ?? {}), ...values };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, HEADER + stringify(merged), { mode: 0o600 });
  await chmod(partial, 0o600);
  await rename(partial, file);
  return merged;
}

/** A bootstrapped agent's credentials, as BootstrapService returns them. */
export interface BootstrappedAgent {
  agent_id: string;
  space_id: string;
  device_id: string;
  device_token: string;
  user_id: string;
  user_token: string;
}

/**
 * Saves a new agent's credentials under `agents.<agent_id>` and makes it the default agent (the
 * top-level keys). The previous default agent's credentials stay under its own entry (a file
 * written before entries existed gets one for its agent first), so no device token is lost.
 */
export async function saveBootstrappedAgent(
  file: string,
  hubUrl: string,
  name: string,
  agent: BootstrappedAgent,
): Promise<OperatorConfig> {
  const saved = (await readOperatorConfig(file)) ?? {};
  const agents: Record<string, OperatorAgentEntry> = { ...(saved.agents ?? {}) };
  if (saved.agent_id && !agents[saved.agent_id]) {
    agents[saved.agent_id] = {
      ...(saved.space_id ? { space_id: saved.space_id } : {}),
      ...(saved.device_id ? { device_id: saved.device_id } : {}),
      ...(saved.device_token ? { device_token: saved.device_token } : {}),
      ...(saved.user_id ? { user_id: saved.user_id } : {}),
    };
  }
  const { agent_id, space_id, device_id, device_token, user_id, user_token } = agent;
  agents[agent_id] = { name, space_id, device_id, device_token, user_id };
  return writeOperatorConfig(file, {
    hub_url: hubUrl,
    agent_id,
    space_id,
    device_id,
    device_token,
    user_id,
    user_token,
    agents,
  });
}

/**
 * The hub's settings from the environment, validated together with the operator config file
 * the hub will read (when first-run bootstrap is on): every problem of both is listed at once,
 * before anything slow starts.
 */
export async function loadHubConfigWithOperatorFile(env: NodeJS.ProcessEnv): Promise<HubConfig> {
  const problems: string[] = [];
  let settings: HubSettings | null = null;
  try {
    settings = loadHubSettings(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw error;
    }
    problems.push(...error.problems);
  }
  if (settings?.firstRunBootstrap ?? true) {
    try {
      await readOperatorConfig(settings?.configFile ?? path.resolve(env['MARVAIN_CONFIG'] || defaultConfigFile(env)));
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        throw error;
      }
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0 || !settings) {
    throw new ConfigError(problems);
  }
  return new HubConfig(settings);
}
