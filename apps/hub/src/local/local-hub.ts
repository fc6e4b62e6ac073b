import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { Duplex } from 'node:stream';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { probeDatabase } from '@marvain/db';
import {
  createRootLogger,
  DataDirLock,
  tightenPrivatePaths,
  type HubConfig,
  type PrivatePath,
} from '@marvain/platform';
import { LocalWebSocketServer } from '@marvain/realtime';
import { createHubApp, type HubAppOptions } from '../setup';
import { runFirstStart, type FirstRunOutcome } from './first-run';

/** After SIGTERM or SIGINT the hub has this long to finish; then it exits anyway (code 1). */
export const SHUTDOWN_BOUND_MS = 10_000;
/** WebSocket clients that do not answer the close within this are cut off. */
const WEBSOCKET_CLOSE_GRACE_MS = 2_000;

/** A start-up failure caused by the machine or a setting, reported as one line naming the setting. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

export interface RunningLocalHub {
  app: NestFastifyApplication;
  url: string;
  outcome: FirstRunOutcome;
  /**
   * Stops accepting connections, answers the requests in flight (each with `Connection: close`),
   * closes idle keep-alive connections and WebSocket clients, lets the workers finish the message
   * in hand, closes the database, then releases the data-folder lock. Idempotent.
   */
  stop(): Promise<void>;
}

export interface LocalHubOptions extends Omit<HubAppOptions, 'localControlSecret'> {
  /** Aborted when a stop is asked for while starting: the start unwinds at its next step. */
  signal?: AbortSignal;
}

/**
 * The local runtime: HTTP, WebSocket and both workers in one process. The order makes every
 * interruption safe: private folders are checked, the data folder locked, the port and the
 * database checked (fast, naming the setting at fault), then the app is built and the first-run
 * credentials saved, and only then does the port answer. Any failure releases the lock.
 */
export async function startLocalHub(config: HubConfig, options: LocalHubOptions = {}): Promise<RunningLocalHub> {
  const { signal, ...appOptions } = options;
  const logger = createRootLogger(config, appOptions.logDestination);
  for (const line of await tightenPrivatePaths(privatePaths(config))) {
    logger.warn(line);
  }

  const embedded = config.database.kind === 'pglite' && config.database.dataDir !== 'memory';
  const lock = embedded ? await DataDirLock.acquire(config.dataDir, config.host, config.port) : null;
  let app: NestFastifyApplication | null = null;
  try {
    const port = await checkPort(config.host, config.port);
    await probeDatabase(config.database);
    signal?.throwIfAborted();
    app = await createHubApp(config, {
      ...appOptions,
      ...(lock ? { localControlSecret: lock.info.control_secret } : {}),
    });
    signal?.throwIfAborted();
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    const outcome = await runFirstStart(app, config, url);
    signal?.throwIfAborted();

    const server: Server = app.getHttpServer();
    const http = closeGracefully(server);
    const websocket = app.get(LocalWebSocketServer);
    websocket.attach(server);
    await app.listen({ port, host: config.host }).catch((error: unknown) => {
      throw listenError(error, config.host, port);
    });
    await lock?.publishPort(port);

    const running = app;
    let stopping: Promise<void> | null = null;
    return {
      app: running,
      url,
      outcome,
      stop: () =>
        (stopping ??= (async () => {
          try {
            const drained = http.close();
            await Promise.race([
              websocket.close(),
              new Promise((resolve) => setTimeout(resolve, WEBSOCKET_CLOSE_GRACE_MS).unref()),
            ]);
            // A WebSocket client that did not answer the close would hold the server open: cut it off.
            http.destroyUpgraded();
            await drained;
            await running.close();
          } finally {
            await lock?.release();
          }
        })()),
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await lock?.release();
    throw error;
  }
}

/** The data folder, the audit folder, the embedded database's folder and the config file. */
function privatePaths(config: HubConfig): PrivatePath[] {
  const folders = [config.dataDir, config.auditDir];
  if (config.database.kind === 'pglite' && config.database.dataDir !== 'memory') {
    folders.push(config.database.dataDir);
  }
  return [
    ...folders.map((folder) => ({ path: path.resolve(folder), kind: 'folder' as const })),
    { path: config.configFile, kind: 'file' },
  ];
}

/**
 * Binds the port briefly before the slow start-up, so a port in use is reported at once; with
 * MARVAIN_PORT=0 this is where the port is chosen (the config file records the hub's URL before
 * the port answers).
 */
function checkPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error) => reject(listenError(error, host, port)));
    probe.listen({ host, port, exclusive: true }, () => {
      const bound = (probe.address() as { port: number }).port;
      probe.close(() => resolve(bound));
    });
  });
}

function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new StartupError(
      `MARVAIN_PORT: port ${port} on ${host} is already in use; stop what is using it or set MARVAIN_PORT to a free port (0 picks one)`,
    );
  }
  if (code === 'EACCES') {
    return new StartupError(`MARVAIN_PORT: this user may not listen on port ${port}; choose a port above 1023`);
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new StartupError(
      `MARVAIN_HOST: cannot listen on ${host} (${code}); use an address of this machine, e.g. 127.0.0.1`,
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Graceful close for the hub's HTTP server. Once closing, every response carries `Connection:
 * close`, so a keep-alive client gets the answer to what it sent and then a closed connection;
 * idle connections are closed at once. Resolves when the last connection has ended.
 */
function closeGracefully(server: Server): { close(): Promise<void>; destroyUpgraded(): void } {
  const inFlight = new Set<ServerResponse>();
  const upgraded = new Set<Duplex>();
  let closing = false;
  server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    if (closing) {
      response.setHeader('connection', 'close');
    }
    inFlight.add(response);
    response.once('close', () => inFlight.delete(response));
  });
  server.prependListener('upgrade', (_request: IncomingMessage, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  return {
    destroyUpgraded: () => {
      for (const socket of upgraded) {
        socket.destroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const response of inFlight) {
          if (!response.headersSent) {
            response.setHeader('connection', 'close');
          }
        }
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/**
 * Installs the SIGINT/SIGTERM handlers before anything starts, so a signal during start-up never
 * interrupts the first-run bootstrap halfway: the start unwinds at its next step instead. After
 * the signal the hub has SHUTDOWN_BOUND_MS to stop; then it exits with code 1 (the queue keeps
 * every message not yet acknowledged, so nothing acknowledged is lost either way).
 */
export function handleStopSignals(
  onSignal: (signal: string) => void,
  onOverrun: () => void,
): { signal: AbortSignal; running(hub: RunningLocalHub): void } {
  const controller = new AbortController();
  let hub: RunningLocalHub | null = null;
  const stop = (signal: string): void => {
    if (controller.signal.aborted) {
      return;
    }
    controller.abort(new Error(`${signal} during start-up`));
    onSignal(signal);
    setTimeout(() => {
      onOverrun();
      process.exit(1);
    }, SHUTDOWN_BOUND_MS).unref();
    if (hub) {
      void hub.stop().then(() => process.exit(0));
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return {
    signal: controller.signal,
    running(started) {
      hub = started;
      if (controller.signal.aborted) {
        void started.stop().then(() => process.exit(0));
      }
    },
  };
}
