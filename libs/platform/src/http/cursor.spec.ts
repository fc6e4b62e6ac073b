import { DomainError, ErrorCode } from '@marvain/contracts';
import { decodeCursor, encodeCursor, parseCursor } from './cursor';

const KEY = { at: '2026-12-03T09:10:23.123456Z', id: '0b9a2f4e-6c1d-4e8a-9f3b-2d7c5e1a4b60' };
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');

describe('list cursors', () => {
  it('round-trips the key it encodes, to the microsecond', () => {
    const cursor = encodeCursor(KEY);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parseCursor(cursor)).toEqual(KEY);
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'abc+/='],
    ['base64url of non-JSON', b64('not json')],
    ['a JSON object', b64(JSON.stringify({ at: KEY.at, id: KEY.id }))],
    ['one element', b64(JSON.stringify([KEY.at]))],
    ['three elements', b64(JSON.stringify([KEY.at, KEY.id, 'x']))],
    ['a number for the timestamp', b64(JSON.stringify([1, KEY.id]))],
    ['a millisecond timestamp', b64(JSON.stringify(['2026-12-03T09:10:23.123Z', KEY.id]))],
    ['a timestamp with an offset', b64(JSON.stringify(['2026-12-03T09:10:23.123456+01:00', KEY.id]))],
    ['month 13', b64(JSON.stringify(['2026-13-03T09:10:23.123456Z', KEY.id]))],
    ['31 February', b64(JSON.stringify(['2026-02-31T09:10:23.123456Z', KEY.id]))],
    ['hour 24', b64(JSON.stringify(['2026-12-03T24:10:23.123456Z', KEY.id]))],
    ['year 0000', b64(JSON.stringify(['0000-01-01T00:00:00.000000Z', KEY.id]))],
    ['a NUL in the timestamp', b64(JSON.stringify([`${KEY.at}\u0000`, KEY.id]))],
    ['an id that is not a uuid', b64(JSON.stringify([KEY.at, 'not-a-uuid']))],
    ['an SQL fragment for an id', b64(JSON.stringify([KEY.at, "' OR 1=1 --"]))],
    ['invalid UTF-8', Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]).toString('base64url')],
    ['a cursor with a character changed', `${encodeCursor(KEY).slice(0, 10)}~${encodeCursor(KEY).slice(11)}`],
    ['a cursor cut short', encodeCursor(KEY).slice(0, -3)],
    [
      'a cursor with stray bits in its last character',
      `${encodeCursor(KEY).slice(0, -1)}${encodeCursor(KEY).endsWith('A') ? 'B' : 'A'}`,
    ],
    ['an oversized text', 'A'.repeat(10_000)],
  ])('refuses %s', (_label, text) => {
    expect(parseCursor(text)).toBeNull();
    let error: unknown;
    try {
      decodeCursor(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: ErrorCode.ValidationFailed, details: { fields: [{ field: 'cursor' }] } });
  });

  it('treats an absent cursor as the start of the list', () => {
    expect(decodeCursor(undefined)).toBeNull();
  });
});
