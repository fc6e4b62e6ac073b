import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataDirLock, type HubConfig } from '@marvain/platform';
import { LocalWebSocketServer } from '@marvain/realtime';
import { createHubApp, type HubAppOptions } from '../setup';
import { runFirstStart, type FirstRunOutcome } from './first-run';

export interface RunningLocalHub {
  app: NestFastifyApplication;
  url: string;
  outcome: FirstRunOutcome;
  /** Closes the WebSocket server and the app, then releases the data-folder lock. */
  stop(): Promise<void>;
}

/**
 * The local runtime: HTTP, WebSocket and both workers in one process, holding the data-folder
 * lock when the database is embedded (PGlite allows one process), then first-run bootstrap.
 */
export async function startLocalHub(config: HubConfig, options: Omit<HubAppOptions, 'localControlSecret'> = {}): Promise<RunningLocalHub> {
  const embedded = config.database.kind === 'pglite' && config.database.dataDir !== 'memory';
  const lock = embedded ? await DataDirLock.acquire(config.dataDir, config.host, config.port) : null;
  const app = await createHubApp(config, { ...options, ...(lock ? { localControlSecret: lock.info.control_secret } : {}) });
  const websocket = app.get(LocalWebSocketServer);
  websocket.attach(app.getHttpServer());
  await app.listen({ port: config.port, host: config.host });
  const port = (app.getHttpServer().address() as AddressInfo).port;
  await lock?.publishPort(port);

  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const outcome = await runFirstStart(app, config, url);
  return {
    app,
    url,
    outcome,
    stop: async () => {
      await websocket.close();
      await app.close();
      await lock?.release();
    },
  };
}

/** Stops the hub once on SIGINT or SIGTERM, then exits. */
export function stopOnSignals(hub: RunningLocalHub, onSignal: (signal: string) => void = () => undefined): void {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    onSignal(signal);
    await hub.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
