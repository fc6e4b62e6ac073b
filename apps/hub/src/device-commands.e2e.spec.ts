import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { testDatabaseKind } from '@marvain/db/testing';
import type { BootstrapResult } from '@marvain/identity';
import { testHubConfig } from '@marvain/platform/testing';
import { MaintenanceService } from '@marvain/presence';
import { LocalWebSocketServer } from '@marvain/realtime';
import { openHubTestServer, type HubTestServer } from './testing/hub-test-server';
import { approvedDeviceCommand } from './testing/device-command-action';
import { jsonFrame, RawWebSocket } from './testing/raw-websocket';

jest.setTimeout(60_000);

type Message = Record<string, any>;

/** Polls `done` until it yields a value (work the hub finishes after a reply, e.g. the tool runner's queue). */
async function waitFor<T>(done: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await done();
    if (value !== undefined) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Commands from the hub to a device, end to end: REST in, a raw WebSocket client as the device. */
describe(`device commands (${testDatabaseKind()})`, () => {
  let hub: HubTestServer;
  let home: BootstrapResult;
  const sockets: RawWebSocket[] = [];

  beforeAll(async () => {
    hub = await openHubTestServer({
      // Workers on, so an approved action reaches the tool runner through the queue as it does in use.
      config: testHubConfig({
        workers: true,
        queue: { visibilityTimeoutSeconds: 30, maxReceives: 5, pollIntervalMs: 50 },
      }),
      beforeListen: (app) => app.get(LocalWebSocketServer).attach(app.getHttpServer()),
    });
    home = await hub.bootstrap();
  });
  afterEach(() => sockets.splice(0).forEach((socket) => socket.destroy()));
  afterAll(async () => {
    await hub.app.get(LocalWebSocketServer).close();
    await hub.close();
  });

  const ask = (socket: RawWebSocket, frame: Message): Promise<Message> => socket.ask<Message>(frame);

  async function device(token: string): Promise<RawWebSocket> {
    const socket = await RawWebSocket.open(hub.base);
    sockets.push(socket);
    expect(await ask(socket, { type: 'hello', token })).toMatchObject({ type: 'hello_ok' });
    return socket;
  }

  const commandsOf = (socket: RawWebSocket): Message[] =>
    (socket.messages() as Message[]).filter(
      (m) => String(m['type']).startsWith('cmd.') && m['type'] !== 'cmd.result_ok',
    );

  const send = (deviceId: string, body: Record<string, unknown>) =>
    hub.call('POST', `/v1/devices/${deviceId}/commands`, home.user_token, body);
  const get = (deviceId: string, commandId: string) =>
    hub.call('GET', `/v1/devices/${deviceId}/commands/${commandId}`, home.user_token);

  async function auditOf(commandId: string): Promise<string[]> {
    const rows = await sql<{ body: string }>`SELECT body FROM audit_entries
      WHERE agent_id = ${home.agent_id}::uuid ORDER BY seq`.execute(hub.kysely);
    return rows.rows
      .map((r) => JSON.parse(r.body) as { action: string; subject?: { id: string } })
      .filter((e) => e.subject?.id === commandId)
      .map((e) => e.action);
  }

  async function backdate(commandId: string): Promise<void> {
    await sql`UPDATE device_commands SET expires_at = now() - interval '1 second'
              WHERE command_id = ${commandId}::uuid`.execute(hub.kysely);
  }

  async function secondDevice(): Promise<{ device_id: string; token: string }> {
    const created = await hub.call('POST', `/v1/agents/${home.agent_id}/devices`, home.user_token, {
      name: `kitchen ${randomUUID()}`,
    });
    expect(created.status).toBe(201);
    return { device_id: created.json.device.device_id, token: created.json.token };
  }

  it('delivers a command to the connected device, which answers; GET shows it succeeded', async () => {
    const socket = await device(home.device_token);
    const created = await send(home.device_id, { kind: 'ping' });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ kind: 'ping', status: 'sent', device_id: home.device_id });
    const commandId = created.json.command_id as string;

    const command = await socket.message<Message>((m) => m['type'] === 'cmd.ping');
    expect(command).toEqual({
      type: 'cmd.ping',
      command_id: commandId,
      issued_at: created.json.created_at,
      expires_at: created.json.expires_at,
      args: {},
    });

    expect(await ask(socket, { type: 'cmd.result', command_id: commandId, ok: true, result: { pong: true } })).toEqual({
      type: 'cmd.result_ok',
      id: expect.any(String),
      command_id: commandId,
      status: 'succeeded',
      duplicate: false,
    });
    const read = await get(home.device_id, commandId);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ status: 'succeeded', result: { pong: true }, error: null });
    expect(read.json.completed_at).not.toBeNull();

    // A second result (the device retrying) changes nothing and writes no second audit entry.
    expect(
      await ask(socket, {
        type: 'cmd.result',
        command_id: commandId,
        ok: false,
        error: { code: 'x', message: 'late' },
      }),
    ).toMatchObject({
      type: 'cmd.result_ok',
      status: 'succeeded',
      duplicate: true,
    });
    expect(await auditOf(commandId)).toEqual([
      'device.command_sent',
      'device.command_delivered',
      'device.command_result',
    ]);
    expect((await get(home.device_id, commandId)).json).toMatchObject({ status: 'succeeded', result: { pong: true } });

    const list = await hub.call('GET', `/v1/devices/${home.device_id}/commands?status=succeeded`, home.user_token);
    expect(list.status).toBe(200);
    expect(list.json.commands.map((c: Message) => c['command_id'])).toContain(commandId);
  });

  it('queues a command while the device is away and delivers it right after its hello_ok', async () => {
    const kitchen = await secondDevice();
    const created = await send(kitchen.device_id, { kind: 'run_action', args: { name: 'uptime', args: ['-p'] } });
    expect(created.json).toMatchObject({ status: 'queued', sent_at: null });

    const socket = await RawWebSocket.open(hub.base);
    sockets.push(socket);
    socket.send(jsonFrame({ type: 'hello', token: kitchen.token, id: 'h' }));
    await socket.message<Message>((m) => m['type'] === 'cmd.run_action');
    const types = (socket.messages() as Message[]).map((m) => m['type']);
    expect(types.slice(0, 2)).toEqual(['hello_ok', 'cmd.run_action']);
    expect(commandsOf(socket)[0]).toMatchObject({
      command_id: created.json.command_id,
      args: { name: 'uptime', args: ['-p'] },
    });
    // The hand-off is recorded once the socket has taken the message, which may be after it arrived.
    await waitFor(async () =>
      (await get(kitchen.device_id, created.json.command_id)).json.status === 'sent' ? true : undefined,
    );

    // Reconnecting before answering gets it again (at-least-once), with no second hand-off entry.
    socket.destroy();
    const again = await device(kitchen.token);
    await again.message<Message>((m) => m['command_id'] === created.json.command_id);
    expect(await auditOf(created.json.command_id)).toEqual(['device.command_sent', 'device.command_delivered']);
  });

  it("lets no device answer another device's command (not_found), and leaves the command as it was", async () => {
    const kitchen = await secondDevice();
    const created = await send(home.device_id, { kind: 'ping' });
    const intruder = await device(kitchen.token);
    expect(await ask(intruder, { type: 'cmd.result', command_id: created.json.command_id, ok: true })).toMatchObject({
      type: 'error',
      error: { code: 'not_found' },
    });
    expect(commandsOf(intruder)).toEqual([]);
    expect((await get(home.device_id, created.json.command_id)).json.status).toBe('queued');
  });

  it("refuses a revoked device's commands with 409", async () => {
    const kitchen = await secondDevice();
    expect((await hub.call('POST', `/v1/devices/${kitchen.device_id}/revoke`, home.user_token)).status).toBe(200);
    const refused = await send(kitchen.device_id, { kind: 'ping' });
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: { code: 'conflict' } });
  });

  it('expires a command nobody took as device_offline, and one never answered as device_timeout', async () => {
    const away = await secondDevice();
    const kitchen = await secondDevice();
    const offline = await send(away.device_id, { kind: 'ping', ttl_seconds: 5 });
    const socket = await device(kitchen.token);
    const silent = await send(kitchen.device_id, { kind: 'ping', ttl_seconds: 5 });
    await socket.message<Message>((m) => m['command_id'] === silent.json.command_id);
    await backdate(offline.json.command_id);
    await backdate(silent.json.command_id);

    const result = await hub.app.get(MaintenanceService).run();
    expect(result.commands_expired).toBeGreaterThanOrEqual(2);
    expect((await get(away.device_id, offline.json.command_id)).json).toMatchObject({
      status: 'expired',
      error: { code: 'device_offline' },
    });
    expect((await get(kitchen.device_id, silent.json.command_id)).json).toMatchObject({
      status: 'expired',
      error: { code: 'device_timeout' },
    });
    expect(await auditOf(offline.json.command_id)).toEqual(['device.command_sent', 'device.command_expired']);

    // A result after the expiry is answered with the status, and changes nothing.
    const late = await ask(socket, { type: 'cmd.result', command_id: silent.json.command_id, ok: true });
    expect(late).toMatchObject({ type: 'cmd.result_ok', status: 'expired', duplicate: false });
    // An expired command is not delivered again at the next hello.
    const awaySocket = await device(away.token);
    expect(await ask(awaySocket, { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(commandsOf(awaySocket)).toEqual([]);
  });

  describe('the device_command action', () => {
    const approvedAction = (payload: Record<string, unknown>): Promise<string> =>
      approvedDeviceCommand(hub, home, payload, 'run uptime on the kitchen satellite');

    const action = async (actionId: string): Promise<Message> =>
      (await hub.call('GET', `/v1/actions/${actionId}`, home.user_token)).json as Message;

    it("ends executed with the device's result once the device answers", async () => {
      const kitchen = await secondDevice();
      const socket = await device(kitchen.token);
      const actionId = await approvedAction({
        device_id: kitchen.device_id,
        command: 'run_action',
        args: { name: 'uptime' },
      });
      const command = await socket.message<Message>((m) => m['type'] === 'cmd.run_action');
      expect((await action(actionId))['status']).toBe('executing');

      const reply = await ask(socket, {
        type: 'cmd.result',
        command_id: command['command_id'],
        ok: true,
        result: { exit_code: 0, stdout: 'up 3 days' },
      });
      expect(reply).toMatchObject({ type: 'cmd.result_ok', status: 'succeeded' });
      expect(await action(actionId)).toMatchObject({
        status: 'executed',
        result: { result: { exit_code: 0, stdout: 'up 3 days' }, command_id: command['command_id'] },
      });
      const read = await get(kitchen.device_id, command['command_id']);
      expect(read.json).toMatchObject({ action_id: actionId, requested_by: `action:${actionId}` });
    });

    it('ends failed with device_offline when the device never connects before the timeout', async () => {
      const kitchen = await secondDevice();
      const actionId = await approvedAction({ device_id: kitchen.device_id, command: 'ping', timeout_seconds: 5 });
      const commandId = await waitFor(async () => {
        const list = await hub.call('GET', `/v1/devices/${kitchen.device_id}/commands`, home.user_token);
        return (list.json.commands as Message[])[0]?.['command_id'] as string | undefined;
      });
      await backdate(commandId);
      await hub.app.get(MaintenanceService).run();
      const failed = await action(actionId);
      expect(failed['status']).toBe('failed');
      expect(failed['error']).toMatch(/^device_offline: /);
    });

    it('fails at once for a device of another agent', async () => {
      const stranger = await hub.bootstrap('Elsewhere', 'away');
      const actionId = await approvedAction({ device_id: stranger.device_id, command: 'ping' });
      const failed = await waitFor(async () => {
        const current = await action(actionId);
        return current['status'] === 'failed' ? current : undefined;
      });
      expect(failed['error']).toMatch(/was not found/);
    });
  });
});
