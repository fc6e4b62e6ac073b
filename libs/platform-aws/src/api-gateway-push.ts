import {
  DeleteConnectionCommand,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { WsCloseCode } from '@marvain/contracts';
import type { ConnectionPush, ConnectionStore } from '@marvain/realtime';

/**
 * The AWS runtime's push: API Gateway Management API PostToConnection, with the client's endpoint
 * set to the WebSocket API's stage URL (MARVAIN_WS_ENDPOINT). A GoneException (410) means the
 * client has disconnected: the connection is deleted from the store and the answer is 'gone'.
 * `close` is DeleteConnection, which carries no close code (API Gateway's client sees 1000).
 */
export class ApiGatewayPush implements ConnectionPush {
  /** `client` hands out the SDK client; awsAdapters makes it on the first call (see `once` there). */
  constructor(
    private readonly client: () => ApiGatewayManagementApiClient,
    private readonly store: ConnectionStore,
  ) {}

  async send(connectionId: string, message: object): Promise<'sent' | 'gone'> {
    try {
      await this.client().send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(message) }),
      );
      return 'sent';
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'GoneException') {
        throw error;
      }
      await this.store.delete(connectionId);
      return 'gone';
    }
  }

  async close(connectionId: string, _code: WsCloseCode, _reason: string): Promise<void> {
    try {
      await this.client().send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'GoneException') {
        throw error;
      }
    }
    await this.store.delete(connectionId);
  }
}
