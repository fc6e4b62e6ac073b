import type { WsCloseCode } from '@marvain/contracts';
import type { ConnectionPush } from './connection-push';
import type { ConnectionStore } from './connection-store';

/** What WebSocketPush needs of a socket; a `ws` WebSocket fits. */
export interface PushSocket {
  readonly readyState: number;
  send(data: string, callback: (error?: Error) => void): void;
  close(code: number, reason: string): void;
}

/** WebSocket.OPEN in `ws` and in the WHATWG API. */
const OPEN = 1;

/**
 * The local runtime's push: the `ws` server registers each socket under its connection id and
 * unregisters it on close. Sending to an unknown or closed socket answers 'gone' and removes
 * the connection from the store, as API Gateway's GoneException does on AWS.
 */
export class WebSocketPush implements ConnectionPush {
  private readonly sockets = new Map<string, PushSocket>();

  constructor(private readonly store: ConnectionStore) {}

  register(connectionId: string, socket: PushSocket): void {
    this.sockets.set(connectionId, socket);
  }

  unregister(connectionId: string): void {
    this.sockets.delete(connectionId);
  }

  async send(connectionId: string, message: object): Promise<'sent' | 'gone'> {
    const socket = this.sockets.get(connectionId);
    if (socket && isOpen(socket)) {
      const error = await new Promise<Error | undefined>((resolve) => {
        socket.send(JSON.stringify(message), resolve);
      });
      if (!error) {
        return 'sent';
      }
      // A socket that closed while sending is gone; any other failure is the caller's to see.
      if (isOpen(socket)) {
        throw error;
      }
    }
    this.sockets.delete(connectionId);
    await this.store.delete(connectionId);
    return 'gone';
  }

  async close(connectionId: string, code: WsCloseCode, reason: string): Promise<void> {
    const socket = this.sockets.get(connectionId);
    this.sockets.delete(connectionId);
    if (socket && isOpen(socket)) {
      socket.close(code, reason);
    }
    await this.store.delete(connectionId);
  }
}

// A function, not an inline comparison: the state changes while a send is under way.
function isOpen(socket: PushSocket): boolean {
  return socket.readyState === OPEN;
}
