import 'reflect-metadata';
import { PrincipalResolver } from '@marvain/identity';
import { CLOCK, LoggerFactory, type Clock } from '@marvain/platform';
import { CONNECTION_STORE, RealtimeGateway, StoredConnections, type ConnectionStore } from '@marvain/realtime';
import { createHubContext, lambdaConfig, once } from './bootstrap';
import { CONNECTION_TTL_SECONDS, WebSocketRoutes, type WebSocketEvent, type WebSocketResult } from './websocket-routes';

const config = lambdaConfig('ws');

/** The hub's modules (no HTTP server, workers off), created on the first event and kept for the container's life. */
const routes = once(async () => {
  const app = await createHubContext(config);
  const gateway = app.get(RealtimeGateway);
  const connections = new StoredConnections(
    gateway,
    app.get(PrincipalResolver),
    app.get<ConnectionStore>(CONNECTION_STORE),
    app.get<Clock>(CLOCK),
    CONNECTION_TTL_SECONDS,
  );
  return new WebSocketRoutes(connections, gateway, app.get(LoggerFactory).forContext('Lambda:ws'));
});

/** The WebSocket API's one function, for $connect, $disconnect and $default. */
export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  return (await routes()).handle(event);
}
