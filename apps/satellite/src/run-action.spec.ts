import type { LocalCommand } from './config';
import { fitResult, runAction } from './run-action';

const node = (script: string, extra: Partial<LocalCommand> = {}): LocalCommand => ({
  argv: [process.execPath, '-e', script],
  timeout_ms: 10_000,
  max_output_bytes: 65_536,
  allow_args: false,
  ...extra,
});

describe('cmd.run_action: the operator-listed local commands', () => {
  it('runs a listed command (no shell) and reports its exit code and output', async () => {
    const commands = {
      hello: node('process.stdout.write("hi " + process.argv.slice(1).join(",")); console.error("note")', {
        allow_args: true,
      }),
    };
    const outcome = await runAction(commands, { name: 'hello', args: ['a b', '$(rm -rf /)'] });
    expect(outcome.ok).toBe(true);
    expect(outcome.result).toMatchObject({
      exit_code: 0,
      stdout: 'hi a b,$(rm -rf /)',
      stderr: 'note\n',
      truncated: false,
    });
    expect(outcome.result?.duration_ms).toEqual(expect.any(Number));
  });

  it('refuses a command that is not listed, and args for a command that takes none, without running anything', async () => {
    const commands = { hello: node('process.exit(0)') };
    expect(await runAction(commands, { name: 'rm' })).toEqual({
      ok: false,
      error: { code: 'command_not_allowed', message: '"rm" is not one of this satellite\'s commands' },
    });
    expect(await runAction(commands, { name: 'toString' })).toMatchObject({
      ok: false,
      error: { code: 'command_not_allowed' },
    });
    expect(await runAction(commands, { name: 'hello', args: ['--all'] })).toMatchObject({
      ok: false,
      error: { code: 'command_not_allowed', message: expect.stringContaining('takes no arguments') },
    });
    expect(await runAction(commands, { args: [] })).toMatchObject({ ok: false, error: { code: 'invalid_command' } });
    expect(await runAction(commands, { name: 'hello', args: 'x' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_command' },
    });
  });

  it('reports a non-zero exit as command_failed, with the result', async () => {
    const outcome = await runAction({ bad: node('console.log("partial"); process.exit(3)') }, { name: 'bad' });
    expect(outcome).toMatchObject({
      ok: false,
      error: { code: 'command_failed', message: expect.stringContaining('exited with code 3') },
      result: { exit_code: 3, stdout: 'partial\n' },
    });
  });

  it('reports a command that cannot start as command_failed', async () => {
    const outcome = await runAction(
      { ghost: { ...node(''), argv: ['/nonexistent/marvain-ghost'] } },
      { name: 'ghost' },
    );
    expect(outcome).toMatchObject({
      ok: false,
      error: { code: 'command_failed', message: expect.stringContaining('ENOENT') },
    });
  });

  it('kills a command past its timeout: command_timeout', async () => {
    const outcome = await runAction(
      { slow: node('console.log("started"); setInterval(() => {}, 1000)', { timeout_ms: 300 }) },
      { name: 'slow' },
    );
    expect(outcome).toMatchObject({
      ok: false,
      error: { code: 'command_timeout' },
      result: { exit_code: null, signal: 'SIGKILL' },
    });
  });

  it('caps the output it keeps and says it cut it', async () => {
    const outcome = await runAction(
      { loud: node('process.stdout.write("x".repeat(100000))', { max_output_bytes: 1000 }) },
      { name: 'loud' },
    );
    expect(outcome.ok).toBe(true);
    expect(outcome.result?.stdout).toHaveLength(1000);
    expect(outcome.result?.truncated).toBe(true);
  });

  it('cuts a result further so its frame stays under the hub’s limit', () => {
    const result = {
      exit_code: 0,
      signal: null,
      stdout: 'x'.repeat(70_000),
      stderr: 'y'.repeat(5_000),
      truncated: false,
      duration_ms: 1,
    };
    const fitted = fitResult(result, 60 * 1024);
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThanOrEqual(60 * 1024);
    expect(fitted.truncated).toBe(true);
    expect(fitted.stderr).toBe(result.stderr);
    expect(fitResult({ ...result, stdout: 'ok' }, 60 * 1024)).toEqual({ ...result, stdout: 'ok' });
  });
});
