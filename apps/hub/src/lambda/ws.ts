import 'reflect-metadata';
import { PrincipalResolver } from '@marvain/identity';
import { CLOCK, LoggerFactory, type Clock } from '@marvain/platform';
import { PresenceService } from '@marvain/presence';
import {
  CONNECTION_PUSH,
  CONNECTION_STORE,
  DEFAULT_WEBSOCKET_LIMITS,
  RealtimeGateway,
  StoredConnections,
  type ConnectionPush,
  type ConnectionStore,
} from '@marvain/realtime';
import { AgentStream } from '@marvain/streams';
import { createHubContext, lambdaConfig, once } from './bootstrap';
import {
  CONNECTION_TTL_SECONDS,
  MAX_REPLAY_MESSAGES,
  WebSocketRoutes,
  type WebSocketEvent,
  type WebSocketResult,
} from './websocket-routes';

const config = lambdaConfig('ws');

/** The hub's modules (no HTTP server, workers off), created on the first event and kept for the container's life. */
const routes = once(async () => {
  const app = await createHubContext(config);
  const gateway = app.get(RealtimeGateway);
  const logs = app.get(LoggerFactory);
  const connections = new StoredConnections(
    {
      gateway,
      resolver: app.get(PrincipalResolver),
      presence: app.get(PresenceService, { strict: false }),
      store: app.get<ConnectionStore>(CONNECTION_STORE),
      push: app.get<ConnectionPush>(CONNECTION_PUSH),
      stream: app.get(AgentStream, { strict: false }),
      clock: app.get<Clock>(CLOCK),
      logger: logs.forContext('Lambda:ws'),
    },
    {
      ttlSeconds: CONNECTION_TTL_SECONDS,
      maxConnectionsPerPrincipal: DEFAULT_WEBSOCKET_LIMITS.maxConnectionsPerPrincipal,
      maxReplay: MAX_REPLAY_MESSAGES,
    },
  );
  return new WebSocketRoutes(connections, gateway, logs.forContext('Lambda:ws'));
});

/** The WebSocket API's one function, for $connect, $disconnect and $default. */
export async function handler(event: WebSocketEvent): Promise<WebSocketResult> {
  return (await routes()).handle(event);
}
