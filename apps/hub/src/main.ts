import 'reflect-metadata';
import { ConfigError, loadHubConfigWithOperatorFile, writesJson, type HubConfig } from '@marvain/platform';
import { WEBSOCKET_PATH } from '@marvain/realtime';
import type { FirstRunOutcome } from './local/first-run';
import { handleStopSignals, SHUTDOWN_BOUND_MS, startLocalHub } from './local/local-hub';

/** The local runtime: HTTP, WebSocket and both workers in one process. */
/**
 * Where the hub's words for a person go (the banner, the shutdown notice): stdout, unless stdout
 * carries JSON log lines, which must stay one record a line for collectors; then stderr.
 */
let humanOutput: NodeJS.WritableStream = process.stdout;

async function main(): Promise<void> {
  // Before anything starts: a signal during start-up must not cut the first-run bootstrap short.
  const signals = handleStopSignals(
    (signal) => humanOutput.write(`\nmarvain hub: ${signal}, shutting down (at most ${SHUTDOWN_BOUND_MS / 1000} s)\n`),
    () => process.stderr.write(`marvain hub: did not stop within ${SHUTDOWN_BOUND_MS / 1000} s; exiting anyway\n`),
  );
  let config: HubConfig;
  try {
    config = await loadHubConfigWithOperatorFile(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`marvain hub: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (writesJson(config)) {
    humanOutput = process.stderr;
  }

  const hub = await startLocalHub(config, { signal: signals.signal }).catch((error: unknown) => {
    // Stopped while starting: the start unwound cleanly (lock released), so this is a normal exit.
    if (signals.signal.aborted) {
      process.exit(0);
    }
    throw error;
  });
  humanOutput.write(banner(hub.url, config, hub.outcome));
  signals.running(hub);
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
      `  curl -s -X POST ${url}/v1/events -H "Authorization: Bearer $(grep '^device_token:' ${config.configFile} | cut -d' ' -f2)" \\`,
      `    -H 'content-type: application/json' -d '{"space_id":"${outcome.spaceId}","type":"transcript_chunk","payload":{"text":"tell Sam the package arrived"}}'`,
    );
  } else if (outcome.kind === 'reused') {
    lines.push(`  agent:    ${outcome.agentId} (from ${config.configFile})`);
  } else if (outcome.kind === 'foreign-database') {
    lines.push('', `Note: ${outcome.advice}`);
  }
  return `${lines.join('\n')}\n\n`;
}

main().catch((error: unknown) => {
  process.stderr.write(`marvain hub failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
