import type { INestApplicationContext } from '@nestjs/common';
import { readLiveLock, type HubConfig } from '@marvain/platform';
import { CliError } from './cli-error';
import { withOperatorContext } from './operator-context';

export interface Routed<T> {
  result: T;
  /** The running hub that did the work, when one held the embedded database. */
  via: { pid: number; url: string } | null;
}

/**
 * Runs an operator command whether or not the hub is running. Embedded PGlite admits one
 * process: when a hub holds it, the command goes to that hub's local control endpoint
 * (guarded by the secret in its lock file); otherwise the CLI opens the database itself.
 */
export async function viaHubOrDirect<T>(
  config: HubConfig,
  control: { path: string; body: Record<string, unknown> },
  direct: (context: INestApplicationContext) => Promise<T>,
): Promise<Routed<T>> {
  const live = config.database.kind === 'pglite' ? await readLiveLock(config.dataDir) : null;
  if (!live) return { result: await withOperatorContext(config, direct), via: null };
  const url = `http://${live.host}:${live.port}`;
  const response = await fetch(`${url}/v1/local/${control.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-marvain-control': live.control_secret },
    body: JSON.stringify(control.body),
  }).catch((error: unknown) => {
    throw new CliError(`the hub (pid ${live.pid}) holds the database but did not answer at ${url}: ${String(error)}`);
  });
  const body = (await response.json()) as T & { error?: { code: string; message: string } };
  if (!response.ok) throw new CliError(`the hub refused: ${body.error?.message ?? response.statusText}`, body.error?.code === 'validation_failed' ? 2 : 1);
  return { result: body, via: { pid: live.pid, url } };
}
