import { DeviceLinks } from '@marvain/commands';
import type { CommandMessage, Principal, WsCloseCode } from '@marvain/contracts';
import { LoggerFactory, type Clock } from '@marvain/platform';
import type { ConnectionPush } from './connection-push';
import { DeviceCommandLink } from './device-command-link';
import type { LocalWebSocketServer } from './local-websocket.server';
import { MemoryConnectionStore } from './memory-connection-store';

const clock: Clock = { now: () => new Date('2026-12-03T10:00:00.000Z') };

const device = (id: string): Principal => ({ type: 'device', id, agents: [{ agent_id: 'a1', scopes: [] }] });

const PING: CommandMessage = {
  type: 'cmd.ping',
  command_id: '9b0c1a52-8b0e-4c55-9a0d-2f6b8d1e3c47',
  issued_at: '2026-12-03T10:00:00.000Z',
  expires_at: '2026-12-03T10:05:00.000Z',
  args: {},
};

/** Sockets this process holds (the local `ws` server's part). */
function localServer(held: string[], sent: string[]): LocalWebSocketServer {
  return {
    sendTo: (id: string) => {
      if (!held.includes(id)) {
        return Promise.resolve(false);
      }
      sent.push(id);
      return Promise.resolve(true);
    },
  } as unknown as LocalWebSocketServer;
}

/** API Gateway's push: `gone` ids have disconnected. */
class RecordingPush implements ConnectionPush {
  readonly sent: Array<{ connectionId: string; message: object }> = [];
  constructor(private readonly gone: string[] = []) {}
  send(connectionId: string, message: object): Promise<'sent' | 'gone'> {
    if (this.gone.includes(connectionId)) {
      return Promise.resolve('gone');
    }
    this.sent.push({ connectionId, message });
    return Promise.resolve('sent');
  }
  close(_connectionId: string, _code: WsCloseCode, _reason: string): Promise<void> {
    return Promise.resolve();
  }
}

describe('DeviceCommandLink', () => {
  let store: MemoryConnectionStore;

  beforeEach(async () => {
    store = new MemoryConnectionStore(clock);
    const put = (id: string, principal: Principal) =>
      store.put({
        connection_id: id,
        principal,
        agent_ids: ['a1'],
        connected_at: '2026-12-03T10:00:00.000Z',
        expires_at: Date.parse('2026-12-03T12:00:00.000Z') / 1000,
      });
    await put('local-1', device('d1'));
    await put('aws-1', device('d1'));
    await put('aws-gone', device('d1'));
    await put('other-device', device('d2'));
    await put('a-user', { type: 'user', id: 'd1', agents: [{ agent_id: 'a1', scopes: [] }] });
  });

  it('hands the command to each live connection of the device only: its own sockets first, else the push', async () => {
    const local: string[] = [];
    const push = new RecordingPush(['aws-gone']);
    const links = new DeviceLinks();
    const link = new DeviceCommandLink(links, store, localServer(['local-1'], local), new LoggerFactory(), push);
    link.onModuleInit();

    expect(await links.send('d1', PING)).toBe(2);
    expect(local).toEqual(['local-1']);
    expect(push.sent).toEqual([{ connectionId: 'aws-1', message: PING }]);
  });

  it('sends to the one connection named (a hello), and takes none when nothing holds it', async () => {
    const local: string[] = [];
    const push = new RecordingPush();
    const link = new DeviceCommandLink(
      new DeviceLinks(),
      store,
      localServer(['local-1'], local),
      new LoggerFactory(),
      push,
    );

    expect(await link.send('d1', PING, 'aws-1')).toBe(1);
    expect(push.sent.map((s) => s.connectionId)).toEqual(['aws-1']);
    // The local runtime has no push: a connection its sockets do not hold takes nothing.
    const localOnly = new DeviceCommandLink(
      new DeviceLinks(),
      store,
      localServer([], local),
      new LoggerFactory(),
      null,
    );
    expect(await localOnly.send('d1', PING)).toBe(0);
  });

  it('delivers nothing before a link is bound', async () => {
    expect(await new DeviceLinks().send('d1', PING)).toBe(0);
  });
});
