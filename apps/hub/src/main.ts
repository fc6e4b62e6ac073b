import 'reflect-metadata';
import { ConfigError, HubConfig, loadHubSettings } from '@marvain/platform';
import { WEBSOCKET_PATH } from '@marvain/realtime';
import type { FirstRunOutcome } from './local/first-run';
import { startLocalHub, stopOnSignals } from './local/local-hub';

/** The local runtime: HTTP, WebSocket and both workers in one process. */
async function main(): Promise<void> {
  let config: HubConfig;
  try {
    config = new HubConfig(loadHubSettings(process.env));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`marvain hub: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  const hub = await startLocalHub(config);
  process.stdout.write(banner(hub.url, config, hub.outcome));
  stopOnSignals(hub, (signal) => process.stdout.write(`\nmarvain hub: ${signal}, shutting down\n`));
}

function banner(url: string, config: HubConfig, outcome: FirstRunOutcome): string {
  const db = config.database.kind === 'pglite' ? `embedded PGlite in ${config.database.dataDir}` : config.database.kind;
  const lines = [
    '',
    `Marvain hub listening on ${url}  (WebSocket ${url.replace(/^http/, 'ws')}${WEBSOCKET_PATH})`,
    `  database: ${db}`,
    `  audit:    ${config.auditDir}`,
    `  API docs: ${url}/docs`,
  ];
  if (outcome.kind === 'bootstrapped') {
    lines.push(
      '',
      `First start: created agent ${outcome.agentId} with space "home" (${outcome.spaceId}).`,
      `Credentials were saved to ${config.configFile} (mode 0600). Try:`,
      '',
      `  curl -s -X POST ${url}/v1/events -H "Authorization: Bearer $(grep device_token ${config.configFile} | cut -d' ' -f2)" \\`,
      `    -H 'content-type: application/json' -d '{"space_id":"${outcome.spaceId}","type":"transcript_chunk","payload":{"text":"tell Sam the package arrived"}}'`,
    );
  } else if (outcome.kind === 'reused') {
    lines.push(`  agent:    ${outcome.agentId} (from ${config.configFile})`);
  } else if (outcome.kind === 'foreign-database') {
    lines.push(`  note: the database has agents but ${config.configFile} names none of them; run ./bin/marvain bootstrap`);
  }
  return `${lines.join('\n')}\n\n`;
}

main().catch((error: unknown) => {
  process.stderr.write(`marvain hub failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
