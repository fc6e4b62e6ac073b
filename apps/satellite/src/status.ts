import { readConfig, webSocketUrl } from './config';
import { readState, type SatelliteState } from './state';

export interface SatelliteStatus {
  config_file: string;
  state_file: string;
  hub_url: string;
  ws_url: string;
  space_id: string | null;
  /** The daemon's pid, when one is running on this state file. */
  pid: number | null;
  running: boolean;
  /** Running and holding an authenticated connection to the hub. */
  connected: boolean;
  connected_at: string | null;
  device_id: string | null;
  last_heartbeat_at: string | null;
  outbox: number;
  commands_awaiting_confirmation: number;
  last_seq: Record<string, number>;
  updated_at: string | null;
}

export function pidAlive(pid: number | null): boolean {
  if (!pid || !Number.isInteger(pid) || pid <= 0) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What `status` reports, from the config and the state file the daemon keeps. */
export function satelliteStatus(configFile: string, stateFile: string): SatelliteStatus {
  const config = readConfig(configFile);
  const state: SatelliteState = readState(stateFile);
  const running = pidAlive(state.pid);
  return {
    config_file: configFile,
    state_file: stateFile,
    hub_url: config.hub_url,
    ws_url: webSocketUrl(config.hub_url),
    space_id: config.space_id,
    pid: running ? state.pid : null,
    running,
    connected: running && state.connected,
    connected_at: running && state.connected ? state.connected_at : null,
    device_id: state.device_id,
    last_heartbeat_at: state.last_heartbeat_at,
    outbox: state.outbox.length,
    commands_awaiting_confirmation: state.commands.filter((record) => !record.acked).length,
    last_seq: state.last_seq,
    updated_at: state.updated_at,
  };
}

export function formatStatus(status: SatelliteStatus): string {
  const seqs = Object.entries(status.last_seq);
  return [
    `satellite: ${status.running ? `running (pid ${String(status.pid)})` : 'not running'}, ${status.connected ? `connected since ${status.connected_at ?? '?'}` : 'not connected'}`,
    `  hub:            ${status.hub_url} (${status.ws_url})`,
    `  device:         ${status.device_id ?? '(not yet connected)'}`,
    `  space:          ${status.space_id ?? '(none)'}`,
    `  last heartbeat: ${status.last_heartbeat_at ?? 'never'}`,
    `  outbox:         ${status.outbox} line(s) waiting`,
    `  results waiting for the hub's confirmation: ${status.commands_awaiting_confirmation}`,
    ...(seqs.length
      ? seqs.map(([agent, seq]) => `  last seq:       ${seq} (agent ${agent})`)
      : ['  last seq:       none yet']),
    `  config: ${status.config_file}`,
    `  state:  ${status.state_file}`,
    '',
  ].join('\n');
}
