import { ValidateBy, type ValidationOptions } from 'class-validator';
import { DomainError, ErrorCode } from '@marvain/contracts';
import type { PageKey } from '@marvain/db';

/*
 * The one list cursor: base64url of the JSON `[at, id]`, the last row's sort key (its timestamp
 * in UTC to the microsecond, and its uuid). It is opaque to clients and carries only a position:
 * every list still filters by the caller's agent, so a forged cursor moves within the caller's
 * own list and never reaches another agent's rows. Anything that is not exactly what the hub
 * issues is refused as `validation_failed`, before it gets near a query.
 */

/** Far longer than any cursor the hub issues (about 100 characters). */
export const CURSOR_MAX_LENGTH = 200;

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const KEY_AT = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.(\d{6})Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(key: PageKey): string {
  return Buffer.from(JSON.stringify([key.at, key.id]), 'utf8').toString('base64url');
}

/** A real calendar instant PostgreSQL accepts (a month 13 or a 31 February is not one). */
function isKeyInstant(at: string): boolean {
  const match = KEY_AT.exec(at);
  if (!match || Number(match[1]) < 1970) {
    return false;
  }
  const millis = `${at.slice(0, 23)}Z`;
  const parsed = new Date(millis);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === millis;
}

/** The position a cursor names, or null when `text` is not a cursor the hub could have issued. */
export function parseCursor(text: string): PageKey | null {
  if (text.length === 0 || text.length > CURSOR_MAX_LENGTH || !BASE64URL.test(text)) {
    return null;
  }
  const bytes = Buffer.from(text, 'base64url');
  // Canonical encoding only: stray bits in the last character would make two texts one cursor.
  if (bytes.toString('base64url') !== text) {
    return null;
  }
  const json = bytes.toString('utf8');
  if (!Buffer.from(json, 'utf8').equals(bytes)) {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 2) {
    return null;
  }
  const [at, id] = value as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !isKeyInstant(at) || !UUID.test(id)) {
    return null;
  }
  return { at, id: id.toLowerCase() };
}

const CURSOR_PROBLEM = 'cursor must be a next_cursor value returned by this list';

/** The position of an optional cursor; a malformed one is `validation_failed` naming the field. */
export function decodeCursor(text: string | undefined): PageKey | null {
  if (text === undefined) {
    return null;
  }
  const key = parseCursor(text);
  if (!key) {
    throw new DomainError(ErrorCode.ValidationFailed, 'the request is not valid', {
      fields: [{ field: 'cursor', problems: [CURSOR_PROBLEM] }],
    });
  }
  return key;
}

/** A query parameter holding a cursor the hub issued. */
export function IsListCursor(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isListCursor',
      validator: {
        validate: (value: unknown): boolean => typeof value === 'string' && parseCursor(value) !== null,
        defaultMessage: () => CURSOR_PROBLEM,
      },
    },
    options,
  );
}
