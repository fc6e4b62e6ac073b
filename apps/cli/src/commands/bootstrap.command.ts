import { BootstrapService, type BootstrapResult } from '@marvain/identity';
import { readOperatorConfig, saveBootstrappedAgent, type HubConfig } from '@marvain/platform';
import { viaHubOrDirect } from '../hub-or-direct';

export interface BootstrapOptions {
  agentName: string;
  spaceName: string;
  ownerEmail?: string;
  json: boolean;
}

/**
 * Creates an owner (or reuses the one in the operator config), an agent, a space and a device,
 * and saves the credentials to the config file: under `agents.<agent_id>`, and as the default
 * agent (the top-level keys); earlier agents keep their entries. Works whether or not the hub is
 * running: a running hub that holds the embedded database is asked through its local control
 * endpoint. Working on the database directly, the file is written before the transaction commits.
 */
export async function bootstrapCommand(
  config: HubConfig,
  options: BootstrapOptions,
  out: (text: string) => void,
): Promise<BootstrapResult> {
  const saved = await readOperatorConfig(config.configFile);
  const request = {
    agentName: options.agentName,
    spaceName: options.spaceName,
    ...(saved?.user_id ? { ownerUserId: saved.user_id } : {}),
    ...(options.ownerEmail ? { ownerEmail: options.ownerEmail } : {}),
  };
  const directUrl = saved?.hub_url ?? `http://${config.host}:${config.port}`;
  const { result, via } = await viaHubOrDirect<BootstrapResult>(
    config,
    {
      path: 'bootstrap',
      body: {
        agent_name: request.agentName,
        space_name: request.spaceName,
        ...(request.ownerUserId ? { owner_user_id: request.ownerUserId } : {}),
        ...(request.ownerEmail ? { owner_email: request.ownerEmail } : {}),
      },
    },
    (context) =>
      context.get(BootstrapService).bootstrap(request, {
        beforeCommit: async (created) => {
          await saveBootstrappedAgent(config.configFile, directUrl, options.agentName, created);
        },
      }),
  );
  if (via) {
    await saveBootstrappedAgent(config.configFile, via.url, options.agentName, result);
  }
  const previous = saved?.agent_id && saved.agent_id !== result.agent_id ? saved.agent_id : null;
  if (options.json) {
    const { agent_id, space_id, device_id, device_token, user_token } = result;
    out(`${JSON.stringify({ agent_id, space_id, device_id, device_token, user_token }, null, 2)}\n`);
  } else {
    out(
      [
        `Bootstrapped agent "${options.agentName}" with space "${options.spaceName}"${via ? ` (through the running hub, pid ${via.pid})` : ''}.`,
        `  agent_id:  ${result.agent_id}`,
        `  space_id:  ${result.space_id}`,
        `  device_id: ${result.device_id}`,
        `  owner:     ${result.user_id}`,
        `Credentials (device token, user token) were saved to ${config.configFile} (mode 0600) under agents.${result.agent_id},`,
        `and as the default agent (the top-level keys)${previous ? `; the previous default agent ${previous} keeps its entry under agents.${previous}` : ''}.`,
        'They are shown only with --json.',
        '',
      ].join('\n'),
    );
  }
  return result;
}
