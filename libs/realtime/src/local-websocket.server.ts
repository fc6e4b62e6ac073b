import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Injectable, Logger } from '@nestjs/common';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { RealtimeGateway, type ConnectionState } from './realtime.gateway';

export const WEBSOCKET_PATH = '/v1/ws';

/** The local runtime's WebSocket endpoint, on the hub's own HTTP server and port. */
@Injectable()
export class LocalWebSocketServer {
  private readonly logger = new Logger('WebSocket');
  private server: WebSocketServer | null = null;

  constructor(private readonly gateway: RealtimeGateway) {}

  attach(http: Server): void {
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    http.on('upgrade', (request, socket, head) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== WEBSOCKET_PATH) {
        socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        socket.destroy();
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => this.onConnection(ws));
    });
    this.server = wss;
  }

  async close(): Promise<void> {
    const wss = this.server;
    if (!wss) return;
    this.server = null;
    for (const client of wss.clients) client.close(1001, 'hub shutting down');
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket): void {
    const state: ConnectionState = { connectionId: randomUUID(), principal: null };
    // Frames are handled one at a time per connection, in order.
    let chain = Promise.resolve();
    ws.on('message', (data) => {
      chain = chain.then(async () => {
        try {
          const reply = await this.gateway.handleFrame(state, frameText(data));
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(reply));
        } catch (error) {
          this.logger.error(`connection ${state.connectionId}: ${String(error)}`);
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', error: { code: 'internal', message: 'internal error' } }));
        }
      });
    });
  }
}

function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(new Uint8Array(data)).toString('utf8');
}
