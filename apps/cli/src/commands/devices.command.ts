import { DevicesService, PrincipalResolver, type DeviceWithTokenView } from '@marvain/identity';
import { readLiveLock, readOperatorConfig, type HubConfig } from '@marvain/platform';
import { CliError } from '../cli-error';
import { postToHub } from '../hub-or-direct';
import { withOperatorContext } from '../operator-context';

export interface AddRemoteOptions {
  agentId: string;
  name: string;
  spaceId?: string;
  hubUrl?: string;
  json: boolean;
}

export interface AddedRemote {
  device_id: string;
  token: string;
  /** The two commands to run on the other machine. */
  install: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A shell word: as it is when it holds nothing a shell would interpret, else single-quoted. */
const shellWord = (value: string): string =>
  /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;

/** The lines that install and start the satellite on another machine, fetching its build from the hub. */
export function installCommands(hubUrl: string, token: string, spaceId: string | null): string[] {
  const hub = hubUrl.replace(/\/+$/, '');
  return [
    `curl -fsSLo marvain-satellite.cjs ${shellWord(`${hub}/v1/satellite/marvain-satellite.cjs`)} && node marvain-satellite.cjs init --hub-url ${shellWord(hub)} --token ${shellWord(token)}${spaceId ? ` --space-id ${spaceId}` : ''}`,
    'node marvain-satellite.cjs run',
  ];
}

/**
 * `marvain devices add-remote`: registers a remote device (`metadata.is_remote`, the default device
 * scopes) as the operator's user (the user token in the config file), and prints the two commands
 * that install and start the satellite daemon on another machine. A running hub that holds the
 * embedded database is asked over its REST API; otherwise the CLI opens the database itself.
 */
export async function addRemoteCommand(
  config: HubConfig,
  options: AddRemoteOptions,
  out: (text: string) => void,
): Promise<AddedRemote> {
  if (!UUID.test(options.agentId)) {
    throw new CliError('--agent-id must be a UUID', 2);
  }
  if (options.spaceId !== undefined && !UUID.test(options.spaceId)) {
    throw new CliError('--space-id must be a UUID', 2);
  }
  if (options.hubUrl !== undefined && !/^(https?|wss?):\/\/[^\s]+$/.test(options.hubUrl)) {
    throw new CliError('--hub-url must be an http, https, ws or wss URL', 2);
  }
  const agentId = options.agentId.toLowerCase();
  const saved = await readOperatorConfig(config.configFile);
  const entry = saved?.agents?.[agentId];
  const userToken = saved?.user_token;
  if (!userToken) {
    throw new CliError(
      `the config file ${config.configFile} holds no user token to act with; run marvain bootstrap or marvain token issue`,
      2,
    );
  }
  const spaceId =
    options.spaceId?.toLowerCase() ??
    entry?.space_id ??
    (saved.agent_id === agentId ? saved.space_id : undefined) ??
    null;
  const input = { name: options.name, metadata: { is_remote: true } };

  const live = config.database.kind === 'pglite' ? await readLiveLock(config.dataDir) : null;
  let created: DeviceWithTokenView;
  let hubUrl: string;
  if (live) {
    const base = `http://${live.host}:${live.port}`;
    created = await registerThroughHub(base, userToken, agentId, input, config.cliTimeoutSeconds);
    hubUrl = options.hubUrl ?? saved.hub_url ?? base;
  } else {
    created = await withOperatorContext(config, async (context) => {
      const principal = await context.get(PrincipalResolver).resolve(userToken);
      return context.get(DevicesService).register(principal, agentId, input);
    });
    hubUrl = options.hubUrl ?? saved.hub_url ?? `http://${config.host}:${config.port}`;
  }

  const added: AddedRemote = {
    device_id: created.device.device_id,
    token: created.token,
    install: installCommands(hubUrl, created.token, spaceId),
  };
  if (options.json) {
    out(`${JSON.stringify(added, null, 2)}\n`);
    return added;
  }
  const loopback = /^(https?|wss?):\/\/(127\.|localhost|\[::1\])/.test(hubUrl);
  out(
    [
      `Created remote device "${created.device.name}" (${added.device_id}) for agent ${agentId}${live ? ` (through the running hub, pid ${live.pid})` : ''}.`,
      `On the other machine (Node 20 or later), run:`,
      '',
      ...added.install.map((line) => `  ${line}`),
      '',
      'The token is shown only now; the config `init` writes keeps it (mode 0600).',
      ...(spaceId
        ? []
        : ['No space was named (--space-id): lines typed into the satellite are refused until it has one.']),
      ...(loopback
        ? [
            `Note: ${hubUrl} is a loopback address, which another machine cannot reach. Pass --hub-url with an address it can`,
            'reach, and let the hub listen there (MARVAIN_HOST=0.0.0.0).',
          ]
        : []),
      '',
    ].join('\n'),
  );
  return added;
}

async function registerThroughHub(
  base: string,
  userToken: string,
  agentId: string,
  input: { name: string; metadata: Record<string, unknown> },
  timeoutSeconds: number,
): Promise<DeviceWithTokenView> {
  return postToHub<DeviceWithTokenView>(
    `${base}/v1/agents/${agentId}/devices`,
    { authorization: `Bearer ${userToken}` },
    input,
    timeoutSeconds,
    () => `the hub at ${base} did not answer within ${timeoutSeconds} s (allow longer with --timeout)`,
  );
}
