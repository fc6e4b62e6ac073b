// The hub bundle as a child process on a fresh embedded database (loopback only), for the benches
// that drive the local runtime over HTTP and WebSocket. `stop()` ends it and removes its folder.
// BENCH_HUB_NODE_ARGS adds node flags to the hub (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { bundle } from '../build/bundle.mjs';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the hub; resolves once it listens, with its port, its first-run credentials and its RSS. */
export async function startLocalHub({
  workers = false,
  env = {},
  nodeArgs = (process.env.BENCH_HUB_NODE_ARGS ?? '').split(' ').filter(Boolean),
} = {}) {
  const hubBundle = await bundle('hub');
  const dir = mkdtempSync(path.join(tmpdir(), 'marvain-bench-hub-'));
  const child = spawn(process.execPath, [...nodeArgs, hubBundle], {
    env: {
      ...process.env,
      MARVAIN_DATA_DIR: path.join(dir, 'data'),
      MARVAIN_CONFIG: path.join(dir, 'config.yaml'),
      MARVAIN_HOST: '127.0.0.1',
      MARVAIN_PORT: '0',
      MARVAIN_LOG_LEVEL: 'warn',
      MARVAIN_WORKERS: String(workers),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = () => {
    // SIGTERM lets a profiling hub write its profile; the folder goes once it has exited.
    child.kill(nodeArgs.length > 0 ? 'SIGTERM' : 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let port = 0;
    for (let i = 0; i < 1200 && !port; i++) {
      await sleep(100);
      if (child.exitCode !== null) {
        throw new Error(`the hub exited with code ${child.exitCode}`);
      }
      try {
        port = JSON.parse(readFileSync(path.join(dir, 'data', 'hub.lock'), 'utf8')).port;
      } catch {
        // not written yet
      }
    }
    if (!port) {
      throw new Error('the hub did not start within 120 s');
    }
    const credentials = parseYaml(readFileSync(path.join(dir, 'config.yaml'), 'utf8'));
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024;
    return { port, credentials, rss, stop, pid: child.pid };
  } catch (error) {
    stop();
    throw error;
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** One JSON request to the hub; resolves with { status, json }. */
export function request(port, method, url, token, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: url,
        agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Registers `count` devices on the agent with `scopes`, `concurrency` at a time; returns their tokens. */
export async function registerDevices(port, userToken, agentId, count, scopes, concurrency = 8) {
  const tokens = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const reply = await request(port, 'POST', `/v1/agents/${agentId}/devices`, userToken, {
          name: `bench satellite ${n}`,
          scopes,
        });
        if (reply.status !== 201) {
          throw new Error(`registering a device answered ${reply.status}: ${JSON.stringify(reply.json)}`);
        }
        tokens.push(reply.json.token);
      }
    }),
  );
  return tokens;
}

/** p-th percentile (0–100) of a list of numbers. */
export function percentile(values, p) {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
