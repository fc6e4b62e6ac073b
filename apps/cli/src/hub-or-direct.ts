import type { INestApplicationContext } from '@nestjs/common';
import { CONTROL_DEADLINE_HEADER, readLiveLock, type HubConfig } from '@marvain/platform';
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
  if (!live) {
    return { result: await withOperatorContext(config, direct), via: null };
  }
  const url = `http://${live.host}:${live.port}`;
  const result = await callHub<T>(
    `${url}/v1/local/${control.path}`,
    live.control_secret,
    control.body,
    config.cliTimeoutSeconds,
    () =>
      [
        `the hub (pid ${live.pid}) holds the database but did not answer at ${url} within ${config.cliTimeoutSeconds} s.`,
        `It will refuse this request if it gets to it later (deadline passed), so nothing happens behind your back.`,
        `Check that hub (is it stopped, or busy?), restart it if it hangs, or allow longer with --timeout <seconds> or MARVAIN_CLI_TIMEOUT_SECONDS.`,
      ].join('\n  '),
  );
  return { result, via: { pid: live.pid, url } };
}

/**
 * One local control request with a deadline: the CLI stops waiting at the deadline, and the hub,
 * told the same deadline in a header, refuses the request if it reaches it any later.
 */
async function callHub<T>(
  endpoint: string,
  secret: string,
  body: Record<string, unknown>,
  timeoutSeconds: number,
  timedOut: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return postToHub<T>(
    endpoint,
    { 'x-marvain-control': secret, [CONTROL_DEADLINE_HEADER]: String(deadline) },
    body,
    timeoutSeconds,
    timedOut,
  );
}

/**
 * POSTs JSON to a running hub and returns its answer; a refusal, a timeout or an unreachable hub
 * becomes a CliError (a refused validation exits 2, the rest 1).
 */
export async function postToHub<T>(
  endpoint: string,
  headers: Record<string, string>,
  body: Record<string, unknown>,
  timeoutSeconds: number,
  timedOut: () => string,
): Promise<T> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutSeconds * 1000);
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    const answer = (await response.json()) as T & { error?: { code: string; message: string } };
    if (!response.ok) {
      throw new CliError(
        `the hub refused: ${answer.error?.message ?? response.statusText}`,
        answer.error?.code === 'validation_failed' ? 2 : 1,
      );
    }
    return answer;
  } catch (error) {
    if (error instanceof CliError) {
      throw error;
    }
    if (abort.signal.aborted) {
      throw new CliError(timedOut());
    }
    throw new CliError(
      `the hub holds the database but did not answer at ${new URL(endpoint).origin}: ${String(error)}`,
    );
  } finally {
    clearTimeout(timer);
  }
}
