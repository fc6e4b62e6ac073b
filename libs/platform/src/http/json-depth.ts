/** How deeply any JSON request body may nest; deeper bodies are refused before any handler runs. */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests deeper than `limit`; iterative, so no input can exhaust the stack. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') {
      continue;
    }
    if (depth + 1 > limit) {
      return true;
    }
    for (const child of Array.isArray(item) ? (item as unknown[]) : Object.values(item as Record<string, unknown>)) {
      pending.push([child, depth + 1]);
    }
  }
  return false;
}
