import { Backoff, backoffDelay } from './backoff';

const options = { baseMs: 500, capMs: 30_000, stableMs: 30_000 };

describe('reconnect backoff', () => {
  it('doubles from the base up to the cap, each delay jittered between half the step and the step', () => {
    for (const [attempt, step] of [
      [0, 500],
      [1, 1000],
      [3, 4000],
      [6, 30_000],
      [40, 30_000],
    ] as const) {
      expect(backoffDelay(attempt, options, () => 0)).toBe(step / 2);
      expect(backoffDelay(attempt, options, () => 0.999999)).toBeLessThanOrEqual(step);
      expect(backoffDelay(attempt, options, () => 0.999999)).toBeGreaterThan(step * 0.99);
    }
  });

  it('spreads satellites that lost the hub together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4, options)));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(4000);
      expect(delay).toBeLessThanOrEqual(8000);
    }
  });

  it('starts afresh after a stable connection, not after a short one', () => {
    const backoff = new Backoff(options, () => 0);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([250, 500, 1000]);
    backoff.connectionEnded(5_000);
    expect(backoff.next()).toBe(2000);
    backoff.connectionEnded(60_000);
    expect(backoff.next()).toBe(250);
  });
});
