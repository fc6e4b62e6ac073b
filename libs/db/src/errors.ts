/**
 * The constraint a unique violation (SQLSTATE 23505) names, from node-postgres, PGlite or the
 * RDS Data API (which reports it only in the message); undefined for any other error.
 * This is the one place that knows how each driver reports the violation.
 */
export function uniqueViolation(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const { code, constraint, message } = error as { code?: unknown; constraint?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  const fromMessage = /duplicate key value violates unique constraint "([^"]+)"/.exec(text)?.[1];
  if (code === '23505') {
    return typeof constraint === 'string' && constraint ? constraint : (fromMessage ?? 'unknown');
  }
  if (/SQLState: 23505\b/.test(text) || fromMessage) {
    return fromMessage ?? 'unknown';
  }
  return undefined;
}

/** True when the database refused a write because of a unique constraint. */
export function isUniqueViolation(error: unknown): boolean {
  return uniqueViolation(error) !== undefined;
}
