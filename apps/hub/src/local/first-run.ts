import type { INestApplicationContext } from '@nestjs/common';
import { BootstrapService } from '@marvain/identity';
import { readOperatorConfig, writeOperatorConfig, type HubConfig } from '@marvain/platform';

export type FirstRunOutcome =
  | { kind: 'disabled' }
  | { kind: 'reused'; agentId: string }
  | { kind: 'foreign-database' }
  | { kind: 'bootstrapped'; agentId: string; spaceId: string; deviceToken: string; userToken: string };

/**
 * On first start with an empty database: create an owner, an agent, a space and a device,
 * and save them to the operator's config file. Later starts reuse what the file names.
 */
export async function runFirstStart(app: INestApplicationContext, config: HubConfig, hubUrl: string): Promise<FirstRunOutcome> {
  if (!config.firstRunBootstrap) return { kind: 'disabled' };
  const bootstrap = app.get(BootstrapService);
  const saved = await readOperatorConfig(config.configFile);
  if (saved?.agent_id && (await bootstrap.agentExists(saved.agent_id))) {
    if (saved.hub_url !== hubUrl) await writeOperatorConfig(config.configFile, { hub_url: hubUrl });
    return { kind: 'reused', agentId: saved.agent_id };
  }
  if (await bootstrap.hasAnyAgent()) return { kind: 'foreign-database' };
  const result = await bootstrap.bootstrap({ agentName: 'Marvain', spaceName: 'home' });
  await writeOperatorConfig(config.configFile, { hub_url: hubUrl, ...result });
  return { kind: 'bootstrapped', agentId: result.agent_id, spaceId: result.space_id, deviceToken: result.device_token, userToken: result.user_token };
}
