import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CONTROL_DEADLINE_HEADER } from '@marvain/platform';
import { cli } from './testing/run-cli';

jest.setTimeout(60_000);

/**
 * A "hub" in another process that holds the data folder's lock and accepts connections but never
 * answers (a hung hub). It prints its port, then one line per request: the deadline header it got.
 */
const HUNG_HUB = `
const http = require('node:http');
const { writeFileSync } = require('node:fs');
const server = http.createServer((request) => {
  process.stdout.write('request ' + (request.headers['${CONTROL_DEADLINE_HEADER}'] ?? '') + '\\n');
});
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  writeFileSync(process.argv[1], JSON.stringify({ pid: process.pid, host: '127.0.0.1', port, control_secret: 's', started_at: new Date().toISOString() }));
  process.stdout.write('port ' + port + '\\n');
});
`;

describe('the CLI against a hub that never answers', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let hung: ChildProcess;
  let port = 0;
  const output: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-cli-timeout-'));
    const dataDir = path.join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    env = { MARVAIN_DATA_DIR: dataDir, MARVAIN_CONFIG: path.join(dir, 'marvain-config.yaml') };
    hung = spawn(process.execPath, ['-e', HUNG_HUB, path.join(dataDir, 'hub.lock')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      hung.once('error', reject);
      hung.stdout?.on('data', (chunk: Buffer) => {
        output.push(...chunk.toString().split('\n').filter(Boolean));
        const line = output.find((l) => l.startsWith('port '));
        if (line && port === 0) {
          port = Number(line.slice(5));
          resolve();
        }
      });
    });
  });

  afterAll(async () => {
    if (hung.pid !== undefined && hung.exitCode === null) {
      const exited = new Promise((resolve) => hung.once('exit', resolve));
      process.kill(hung.pid);
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('gives up after --timeout with a message naming the hub, and tells the hub the deadline', async () => {
    const before = Date.now();
    const result = await cli(['--timeout', '1', 'user', 'create', '--email', 'ada@example.com'], env);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`did not answer at http://127.0.0.1:${port} within 1 s`);
    expect(result.err).toContain(`pid ${hung.pid}`);
    expect(result.err).toMatch(/--timeout <seconds> or MARVAIN_CLI_TIMEOUT_SECONDS/);
    // The request carried an absolute deadline one timeout ahead, which the hub checks before acting.
    const deadline = Number(
      output
        .filter((l) => l.startsWith('request '))
        .at(-1)
        ?.slice(8),
    );
    expect(deadline).toBeGreaterThanOrEqual(before + 1000);
    expect(deadline).toBeLessThanOrEqual(Date.now());
  });

  it('takes the timeout from MARVAIN_CLI_TIMEOUT_SECONDS', async () => {
    const result = await cli(['token', 'issue', '--email', 'ada@example.com'], {
      ...env,
      MARVAIN_CLI_TIMEOUT_SECONDS: '1',
    });
    expect(result.code).toBe(1);
    expect(result.err).toContain('within 1 s');
  });

  it('refuses a timeout that is not a whole number of seconds', async () => {
    const flag = await cli(['--timeout', '0', 'user', 'create', '--email', 'ada@example.com'], env);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain('--timeout');
    const variable = await cli(['user', 'create', '--email', 'ada@example.com'], {
      ...env,
      MARVAIN_CLI_TIMEOUT_SECONDS: 'soon',
    });
    expect(variable.code).toBe(2);
    expect(variable.err).toContain('MARVAIN_CLI_TIMEOUT_SECONDS');
  });
});
