import { sql, type SelectQueryBuilder } from 'kysely';

/**
 * Where a page of a list ended: the last row's sort key. `at` is the timestamp as text exact to
 * the microsecond (PostgreSQL's precision): a JS Date keeps only milliseconds, and a key rounded
 * to them would repeat or skip rows created within the same millisecond.
 */
export interface PageKey {
  at: string;
  id: string;
}

/** At most `limit` rows after `after` (the start of the list when absent). */
export interface PageRequest {
  limit: number;
  after?: PageKey | null | undefined;
}

export interface Page<T> {
  rows: T[];
  /** The key to continue from; null when this page is the end of the list. */
  next: PageKey | null;
}

/** The order of a list: a timestamp column, then the row's id, both in one direction (a total order). */
export interface PageOrder {
  /** Column references as the query names them, e.g. `m.created_at`, `m.membership_id`. */
  at: string;
  id: string;
  direction: 'asc' | 'desc';
}

const KEY_AT = 'page_key_at';
/** The timestamp in UTC, to the microsecond, in the form the cursor carries. */
const KEY_AT_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

/**
 * Runs `query` as one page of a keyset-paginated list: ordered by (at, id) in `order.direction`,
 * starting strictly after `page.after`. The row-value comparison continues exactly where the
 * previous page stopped, whatever was inserted meanwhile, and an index on (filter…, at, id)
 * serves it. One extra row is read to know whether another page follows.
 */
export async function keysetPage<DB, TB extends keyof DB, O extends object>(
  query: SelectQueryBuilder<DB, TB, O>,
  order: PageOrder,
  page: PageRequest,
): Promise<Page<O>> {
  const at = sql.ref(order.at);
  const id = sql.ref(order.id);
  const idField = order.id.slice(order.id.lastIndexOf('.') + 1);
  let select = query.select(
    sql<string>`to_char(${at} AT TIME ZONE 'UTC', ${KEY_AT_FORMAT})`.as(KEY_AT),
  ) as unknown as SelectQueryBuilder<DB, TB, O & { page_key_at: string }>;
  if (page.after) {
    const after = page.after;
    select =
      order.direction === 'desc'
        ? select.where(sql<boolean>`(${at}, ${id}) < (${after.at}::timestamptz, ${after.id}::uuid)`)
        : select.where(sql<boolean>`(${at}, ${id}) > (${after.at}::timestamptz, ${after.id}::uuid)`);
  }
  const rows = await select
    .orderBy(at, order.direction)
    .orderBy(id, order.direction)
    .limit(page.limit + 1)
    .execute();
  const kept = rows.slice(0, page.limit);
  const last = kept[kept.length - 1];
  const next =
    rows.length > page.limit && last
      ? { at: last.page_key_at, id: String((last as Record<string, unknown>)[idField]) }
      : null;
  return { rows: kept.map(({ page_key_at: _key, ...row }) => row as unknown as O), next };
}
