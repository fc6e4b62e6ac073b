import { DomainError, ErrorCode } from '@marvain/contracts';

/** Join tokens one principal may be issued per window. */
export const LIVEKIT_TOKENS_PER_WINDOW = 30;
export const LIVEKIT_TOKEN_WINDOW_MS = 60_000;
/** Principals tracked at once; past this, expired windows are dropped, then the oldest. */
export const LIVEKIT_RATE_LIMIT_KEYS = 10_000;

/**
 * A fixed window per principal, starting at its first request: at most `limit` per window.
 * Memory is bounded by `maxKeys`. The counts live in this process: on AWS each Lambda container
 * counts on its own, so the hub-wide limit is per container there.
 */
export class TokenRateLimit {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit = LIVEKIT_TOKENS_PER_WINDOW,
    private readonly windowMs = LIVEKIT_TOKEN_WINDOW_MS,
    private readonly maxKeys = LIVEKIT_RATE_LIMIT_KEYS,
  ) {}

  /** Counts one request of `key` at `now` (ms), or throws `rate_limited` with details.retry_after_seconds. */
  take(key: string, now: number): void {
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      this.windows.delete(key);
      this.makeRoom(now);
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    if (window.count >= this.limit) {
      const retryAfter = Math.max(1, Math.ceil((window.start + this.windowMs - now) / 1000));
      throw new DomainError(
        ErrorCode.RateLimited,
        `at most ${this.limit} LiveKit tokens per ${this.windowMs / 1000} s; try again in ${retryAfter} s`,
        { retry_after_seconds: retryAfter, limit: this.limit, window_seconds: this.windowMs / 1000 },
      );
    }
    window.count += 1;
  }

  /** How many principals are tracked. */
  get size(): number {
    return this.windows.size;
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.maxKeys) {
      return;
    }
    // Map order is insertion order and a window is (re)inserted when it starts, so the oldest
    // windows come first: expired ones are dropped from the front, then, if still full, the oldest.
    for (const [key, window] of this.windows) {
      if (this.windows.size < this.maxKeys && now - window.start < this.windowMs) {
        break;
      }
      this.windows.delete(key);
    }
  }
}
