import 'reflect-metadata';
import { PrincipalResolver } from '@marvain/identity';
import { CLOCK, CONNECTION_STORE, type Clock, type ConnectionStore } from '@marvain/platform';
import { RealtimeGateway } from '@marvain/realtime';
import { createHubContext, lambdaConfig, once } from './bootstrap';
import { WebSocketRoutes, type WebSocketEvent, type WebSocketResult } from './websocket-routes';

const config = lambdaConfig('ws');

/** The hub's modules (no HTTP server, workers off), created on the first event and kept for the container's life. */
const routes = once(async () => {
  const app = await createHubContext(config);
  return new WebSocketRoutes(
    app.get(RealtimeGateway),
    app.get(PrincipalResolver),
    app.get<ConnectionStore>(CONNECTION_STORE),
    app.get<Clock>(CLOCK),
  );
});

/** The WebSocket API's one function, for $connect, $disconnect and $default. */
export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  return (await routes()).handle(event);
}
