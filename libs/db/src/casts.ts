import { sql, type RawBuilder } from 'kysely';

/*
 * Values passed with an explicit cast. On the RDS Data API a parameter without a type hint
 * arrives as text, so `uuid = $1` fails there; with a cast the same SQL runs unchanged on
 * PGlite, PostgreSQL and the Data API.
 */
export const asUuid = (value: string): RawBuilder<string> => sql<string>`${value}::uuid`;
export const asJson = <T>(value: T): RawBuilder<T> => sql<T>`${JSON.stringify(value)}::jsonb`;
export const asTimestamp = (value: Date): RawBuilder<Date> => sql<Date>`${value.toISOString()}::timestamptz`;
export const asVector = (value: readonly number[]): RawBuilder<string> =>
  sql<string>`${`[${value.join(',')}]`}::vector`;
