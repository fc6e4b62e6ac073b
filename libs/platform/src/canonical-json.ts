/**
 * Canonical JSON (RFC 8785 ordering for the values Marvain hashes): object keys sorted by
 * UTF-16 code units, no whitespace, undefined members dropped. Two equal values always give
 * the same bytes, so their hashes agree wherever they are computed.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new TypeError('non-finite numbers have no JSON form');
    }
    if (typeof value === 'bigint') {
      return value.toString();
    }
    // JSON has no undefined, functions or symbols; like JSON.stringify in arrays, they become null.
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
      return 'null';
    }
    return JSON.stringify(value);
  }
  if (value instanceof Date) {
    return JSON.stringify(value.toISOString());
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
