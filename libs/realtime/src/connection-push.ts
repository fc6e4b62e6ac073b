/**
 * Sends a server message to one connection: the local `ws` socket, or API Gateway's
 * PostToConnection. 'gone' means the connection no longer exists; the adapter has already
 * removed it from the connection store, so the caller only stops sending to it.
 */
export interface ConnectionPush {
  send(connectionId: string, message: object): Promise<'sent' | 'gone'>;
}
export const CONNECTION_PUSH = Symbol('ConnectionPush');
