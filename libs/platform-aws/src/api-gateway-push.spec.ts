import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  ForbiddenException,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import { MemoryConnectionStore } from '@marvain/realtime';
import { ApiGatewayPush } from './api-gateway-push';

const apigw = mockClient(ApiGatewayManagementApiClient);
const clock = { now: () => new Date('2026-11-20T10:00:00.000Z') };

function sent(): Array<{ command: string; input: unknown }> {
  return apigw.calls().map((call) => ({ command: call.args[0].constructor.name, input: call.args[0].input }));
}

async function setup(): Promise<{ push: ApiGatewayPush; store: MemoryConnectionStore }> {
  const store = new MemoryConnectionStore(clock);
  for (const id of ['Gk1abcd=', 'Zz9other=']) {
    await store.put({
      connection_id: id,
      principal: { type: 'user', id: 'u1', agents: [] },
      agent_ids: ['a1'],
      connected_at: '2026-11-20T10:00:00.000Z',
      expires_at: Date.parse('2026-11-20T11:00:00.000Z') / 1000,
    });
  }
  const client = new ApiGatewayManagementApiClient({
    region: 'eu-west-1',
    endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod',
  });
  return { push: new ApiGatewayPush(() => client, store), store };
}

describe('ApiGatewayPush', () => {
  beforeEach(() => {
    apigw.reset();
  });

  it('posts the message as JSON to the connection', async () => {
    const { push, store } = await setup();
    apigw.on(PostToConnectionCommand).resolves({});
    expect(await push.send('Gk1abcd=', { type: 'action_updated', action_id: 'x1' })).toBe('sent');
    expect(sent()).toStrictEqual([
      {
        command: 'PostToConnectionCommand',
        input: { ConnectionId: 'Gk1abcd=', Data: '{"type":"action_updated","action_id":"x1"}' },
      },
    ]);
    expect(await store.get('Gk1abcd=')).not.toBeNull();
  });

  it('on GoneException deletes that connection from the store and answers gone', async () => {
    const { push, store } = await setup();
    apigw.on(PostToConnectionCommand).rejects(new GoneException({ $metadata: { httpStatusCode: 410 }, message: '' }));
    expect(await push.send('Gk1abcd=', { type: 'pong' })).toBe('gone');
    expect(await store.get('Gk1abcd=')).toBeNull();
    expect(await store.get('Zz9other=')).not.toBeNull();
  });

  it('passes other failures on and keeps the connection', async () => {
    const { push, store } = await setup();
    apigw
      .on(PostToConnectionCommand)
      .rejects(new ForbiddenException({ $metadata: { httpStatusCode: 403 }, message: 'Forbidden' }));
    await expect(push.send('Gk1abcd=', { type: 'pong' })).rejects.toBeInstanceOf(ForbiddenException);
    expect(await store.get('Gk1abcd=')).not.toBeNull();
  });

  it('close deletes the API Gateway connection and its stored record; one already gone is no error', async () => {
    const { push, store } = await setup();
    apigw
      .on(DeleteConnectionCommand, { ConnectionId: 'Zz9other=' })
      .rejects(new GoneException({ $metadata: { httpStatusCode: 410 }, message: '' }));
    await push.close('Gk1abcd=', 4401, 'credential revoked');
    await push.close('Zz9other=', 4401, 'credential revoked');
    expect(sent()).toStrictEqual([
      { command: 'DeleteConnectionCommand', input: { ConnectionId: 'Gk1abcd=' } },
      { command: 'DeleteConnectionCommand', input: { ConnectionId: 'Zz9other=' } },
    ]);
    expect(await store.get('Gk1abcd=')).toBeNull();
    expect(await store.get('Zz9other=')).toBeNull();
  });

  it('close passes other failures on and keeps the record', async () => {
    const { push, store } = await setup();
    apigw
      .on(DeleteConnectionCommand)
      .rejects(new ForbiddenException({ $metadata: { httpStatusCode: 403 }, message: 'Forbidden' }));
    await expect(push.close('Gk1abcd=', 4401, 'credential revoked')).rejects.toBeInstanceOf(ForbiddenException);
    expect(await store.get('Gk1abcd=')).not.toBeNull();
  });
});
