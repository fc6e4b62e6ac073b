import type { WsCloseCode } from '@marvain/contracts';

/**
 * Sends a server message to one connection: the local `ws` socket, or API Gateway's
 * PostToConnection. 'gone' means the connection no longer exists; the adapter has already
 * removed it from the connection store, so the caller only stops sending to it.
 */
export interface ConnectionPush {
  send(connectionId: string, message: object): Promise<'sent' | 'gone'>;
  /**
   * Closes the connection (a revoked credential, a refused hello) and removes it from the store;
   * one already gone is no error. API Gateway's DeleteConnection carries no close code: its
   * client sees 1000 (or 1006), so `code` and `reason` reach only local clients.
   */
  close(connectionId: string, code: WsCloseCode, reason: string): Promise<void>;
}
export const CONNECTION_PUSH = Symbol('ConnectionPush');
