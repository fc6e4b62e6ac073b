import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { DataDirLock, lockFileIn, readLiveLock } from './data-dir-lock';

/** No process has this pid (it is above every kernel's pid_max). */
const DEAD_PID = 2_147_483_646;

function procStart(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
}

describe('DataDirLock', () => {
  let dir: string;
  const held: DataDirLock[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'marvain-lock-'));
  });
  afterEach(async () => {
    for (const lock of held.splice(0)) {
      await lock.release();
    }
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  });

  const acquire = async (): Promise<DataDirLock> => {
    const lock = await DataDirLock.acquire(dir, '127.0.0.1', 0);
    held.push(lock);
    return lock;
  };
  const leaveLock = (info: Record<string, unknown>): Promise<void> =>
    writeFile(
      lockFileIn(dir),
      JSON.stringify({
        host: '127.0.0.1',
        port: 8080,
        control_secret: 'old',
        started_at: '2020-01-01T00:00:00Z',
        ...info,
      }),
    );

  it('takes over a leftover lock naming its own pid (pid 1 in a restarted container)', async () => {
    await leaveLock({ pid: process.pid });
    expect(await readLiveLock(dir)).toBeNull();
    const lock = await acquire();
    expect(JSON.parse(readFileSync(lockFileIn(dir), 'utf8'))).toMatchObject({
      pid: process.pid,
      control_secret: lock.info.control_secret,
    });
    expect(await readLiveLock(dir)).toMatchObject({ control_secret: lock.info.control_secret });
  });

  it('refuses while this process or another live Marvain process holds the folder', async () => {
    await acquire();
    await expect(DataDirLock.acquire(dir, '127.0.0.1', 0)).rejects.toThrow(
      `another Marvain process (pid ${process.pid}) is using ${dir}`,
    );
    await held.pop()?.release();

    // The parent of this test worker runs node, and the lock records its real start time.
    await leaveLock({ pid: process.ppid, process_start: procStart(process.ppid) });
    await expect(DataDirLock.acquire(dir, '127.0.0.1', 0)).rejects.toThrow(
      `another Marvain process (pid ${process.ppid})`,
    );
    expect(readFileSync(lockFileIn(dir), 'utf8')).toContain('"control_secret":"old"');
  });

  it('takes over a lock naming a live pid that is not the holder: another program, or a reused pid', async () => {
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(sleeper);
    await new Promise((resolve) => sleeper.once('spawn', resolve));
    const pid = sleeper.pid as number;

    await leaveLock({ pid });
    expect(await readLiveLock(dir)).toBeNull();
    await (await acquire()).release();

    await leaveLock({ pid: process.ppid, process_start: `${procStart(process.ppid)}1` });
    await acquire();
  });

  it('gives a stale lock to exactly one of several racing acquirers, and leaves nothing behind', async () => {
    for (const stale of [JSON.stringify({ pid: DEAD_PID, control_secret: 'old' }), '', '{"pid":']) {
      for (let round = 0; round < 10; round++) {
        await writeFile(lockFileIn(dir), stale);
        const results = await Promise.allSettled([0, 1, 2, 3].map(() => DataDirLock.acquire(dir, '127.0.0.1', 0)));
        const winners = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        expect(winners).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') {
            expect(String(r.reason)).toContain('another Marvain process');
          }
        }
        const winner = winners[0] as DataDirLock;
        expect(JSON.parse(readFileSync(lockFileIn(dir), 'utf8'))).toMatchObject({
          control_secret: winner.info.control_secret,
        });
        await winner.release();
        expect(readdirSync(dir)).toEqual([]);
      }
    }
  });

  it('gives a stale lock to exactly one of several processes starting at once', async () => {
    // Each racer is a real process running this module, told to go at the same moment.
    const bundle = path.join(dir, 'lock.cjs');
    buildSync({
      entryPoints: [path.join(__dirname, 'data-dir-lock.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: bundle,
      logLevel: 'silent',
    });
    const script = `const { DataDirLock } = require(${JSON.stringify(bundle)});
      process.stdin.once('data', () => DataDirLock.acquire(process.argv[1], '127.0.0.1', 0).then(
        () => process.stdout.write('won\\n'),
        (error) => process.stdout.write(error.message.includes('another Marvain process') ? 'lost\\n' : 'error ' + error.message + '\\n')));`;
    const data = path.join(dir, 'data');
    for (let round = 0; round < 5; round++) {
      await rm(data, { recursive: true, force: true });
      await mkdir(data);
      await writeFile(lockFileIn(data), JSON.stringify({ pid: DEAD_PID, control_secret: 'old' }));
      // stdin is buffered until a racer listens, so all of them go as soon as each is ready.
      const racers = [0, 1, 2, 3].map(() =>
        spawn(process.execPath, ['-e', script, data], { stdio: ['pipe', 'pipe', 'ignore'] }),
      );
      children.push(...racers);
      const outcomes = racers.map(
        (racer) =>
          new Promise<string>((resolve) =>
            racer.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
          ),
      );
      for (const racer of racers) {
        racer.stdin.write('go\n');
      }
      expect((await Promise.all(outcomes)).sort()).toEqual(['lost', 'lost', 'lost', 'won']);
      for (const racer of racers) {
        racer.kill('SIGKILL');
      }
    }
  });

  it('release leaves a lock that another process took over alone', async () => {
    const lock = await acquire();
    await leaveLock({ pid: DEAD_PID, control_secret: 'someone else' });
    await lock.release();
    expect(existsSync(lockFileIn(dir))).toBe(true);
  });
});
