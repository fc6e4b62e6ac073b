import type { INestApplicationContext } from '@nestjs/common';
import { BootstrapService } from '@marvain/identity';
import { readOperatorConfig, saveBootstrappedAgent, writeOperatorConfig, type HubConfig } from '@marvain/platform';

export type FirstRunOutcome =
  | { kind: 'disabled' }
  | { kind: 'reused'; agentId: string }
  /** The database has agents, but the config file names none of them; `advice` says what to do. */
  | { kind: 'foreign-database'; advice: string }
  | { kind: 'bootstrapped'; agentId: string; spaceId: string; deviceToken: string; userToken: string };

export const FIRST_AGENT_NAME = 'Marvain';
export const FIRST_SPACE_NAME = 'home';

/**
 * On first start with an empty database: create an owner, an agent, a space and a device,
 * and save them to the operator's config file. Later starts reuse what the file names.
 *
 * The file is written before the bootstrap transaction commits: a start interrupted at any
 * moment leaves either both or an empty database (and a file naming an agent that does not
 * exist, which the next start replaces), never an agent whose credentials were lost.
 */
export async function runFirstStart(
  app: INestApplicationContext,
  config: HubConfig,
  hubUrl: string,
): Promise<FirstRunOutcome> {
  if (!config.firstRunBootstrap) {
    return { kind: 'disabled' };
  }
  const bootstrap = app.get(BootstrapService);
  const saved = await readOperatorConfig(config.configFile);
  if (saved?.agent_id && (await bootstrap.agentExists(saved.agent_id))) {
    if (saved.hub_url !== hubUrl) {
      await writeOperatorConfig(config.configFile, { hub_url: hubUrl });
    }
    return { kind: 'reused', agentId: saved.agent_id };
  }
  if (await bootstrap.hasAnyAgent()) {
    return { kind: 'foreign-database', advice: foreignDatabaseAdvice(config) };
  }
  const result = await bootstrap.bootstrap(
    { agentName: FIRST_AGENT_NAME, spaceName: FIRST_SPACE_NAME },
    {
      beforeCommit: async (created) => {
        await saveBootstrappedAgent(config.configFile, hubUrl, FIRST_AGENT_NAME, created);
      },
    },
  );
  return {
    kind: 'bootstrapped',
    agentId: result.agent_id,
    spaceId: result.space_id,
    deviceToken: result.device_token,
    userToken: result.user_token,
  };
}

function foreignDatabaseAdvice(config: HubConfig): string {
  return [
    `the database has agents, but ${config.configFile} names none of them (a config file from elsewhere, or credentials of an earlier start that were never saved).`,
    `To get working credentials saved to that file, run (with the hub running or not):`,
    `  ./bin/marvain bootstrap --agent-name ${FIRST_AGENT_NAME} --space-name ${FIRST_SPACE_NAME}`,
    `or point MARVAIN_CONFIG at the config file that belongs to this database.`,
  ].join('\n');
}
