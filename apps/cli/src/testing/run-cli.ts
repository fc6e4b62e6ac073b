import { runCli } from '../program';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process, as `./bin/marvain args…` would, and collects what it printed. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (text) => (out += text), err: (text) => (err += text), env });
  return { code, out, err };
}
