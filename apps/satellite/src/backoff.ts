/** Reconnection delays: exponential, capped, with jitter so many satellites do not return in step. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** A connection that stayed up this long resets the sequence. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, capMs: 30_000, stableMs: 30_000 };

/**
 * The delay before reconnection attempt `attempt` (0 for the first): the exponential step
 * `min(cap, base * 2^attempt)`, of which a random half is kept ("equal jitter"): from step/2 to step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + random() * (step / 2));
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay; each call backs off further, up to the cap. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.options, this.random);
    this.attempt += 1;
    return delay;
  }

  /** A connection ended after `upMs`: a stable one starts the sequence afresh. */
  connectionEnded(upMs: number): void {
    if (upMs >= this.options.stableMs) {
      this.attempt = 0;
    }
  }

  get attempts(): number {
    return this.attempt;
  }
}
