import { ErrorCode } from '@marvain/contracts';
import {
  describePath,
  findUnsafeText,
  undecodableQueryParameter,
  unsafeRequestText,
  unsafeTextProblem,
} from './unsafe-text';

describe('unsafe text (NUL and lone surrogates)', () => {
  it.each([
    ['a NUL', 'a\u0000b', 'contains a NUL character (U+0000)'],
    ['a lone high surrogate', 'a\ud800b', 'contains a lone UTF-16 surrogate'],
    ['a high surrogate at the end', 'ab\ud800', 'contains a lone UTF-16 surrogate'],
    ['a lone low surrogate', '\udc00ab', 'contains a lone UTF-16 surrogate'],
    ['two high surrogates', '\ud800\ud800\udc00', 'contains a lone UTF-16 surrogate'],
  ])('refuses %s', (_label, text, problem) => {
    expect(unsafeTextProblem(text)).toBe(problem);
  });

  it.each([
    ['plain text', 'hello'],
    ['an emoji (a surrogate pair)', 'ok 👍 done'],
    ['other control characters (left to per-field rules)', 'a\tb\nc\u0001'],
    ['the empty string', ''],
    ['U+FFFD and a private-use character', '\ufffd\ue000'],
  ])('accepts %s', (_label, text) => {
    expect(unsafeTextProblem(text)).toBeNull();
  });

  it('finds the first unsafe string at any depth, in values and in keys, with its path', () => {
    expect(findUnsafeText({ a: 'ok', payload: { items: [{ note: 'fine' }, { note: 'x\u0000' }] } })).toEqual({
      path: ['payload', 'items', 1, 'note'],
      inKey: false,
      problem: 'contains a NUL character (U+0000)',
    });
    expect(findUnsafeText({ metadata: { ['k\udc00']: 1 } })).toEqual({
      path: ['metadata', 'k\udc00'],
      inKey: true,
      problem: 'is a key that contains a lone UTF-16 surrogate',
    });
    expect(findUnsafeText('\u0000')).toEqual({ path: [], inKey: false, problem: 'contains a NUL character (U+0000)' });
    expect(findUnsafeText({ first: 'a\u0000', second: 'b\ud800' })?.path).toEqual(['first']);
  });

  it('accepts safe values of every JSON type', () => {
    expect(findUnsafeText({ s: 'x', n: 1, b: true, z: null, a: [1, 'y', { 'ключ 👍': 'значение' }] })).toBeNull();
    expect(findUnsafeText(undefined)).toBeNull();
  });

  it('walks a deeply nested value without exhausting the stack', () => {
    let deep: unknown = 'bottom\u0000';
    for (let i = 0; i < 100_000; i++) {
      deep = [deep];
    }
    expect(findUnsafeText(deep)?.problem).toBe('contains a NUL character (U+0000)');
  });

  it('names a path without echoing the bad character or a huge key', () => {
    const path = describePath(['payload', `a\u0000b${'k'.repeat(1000)}`, 3]);
    expect(path).not.toContain('\u0000');
    expect(path.startsWith('payload.a\\u0000bkkk')).toBe(true);
    expect(path.length).toBeLessThan(100);
    expect(describePath(['x\ud800'])).toBe('x\\ud800');
    expect(describePath(['👍'])).toBe('👍');
  });

  it('makes one validation_failed naming the request part and the field', () => {
    const error = unsafeRequestText({ params: { agent_id: 'ok' }, query: {}, body: { payload: { text: 'a\u0000' } } });
    expect(error?.code).toBe(ErrorCode.ValidationFailed);
    expect(error?.message).toBe('body field payload.text contains a NUL character (U+0000)');
    expect(error?.details).toEqual({
      fields: [{ field: 'payload.text', problems: ['payload.text contains a NUL character (U+0000)'] }],
    });
    expect(unsafeRequestText({ params: { agent_id: '\u0000' }, query: {}, body: undefined })?.message).toBe(
      'path parameter agent_id contains a NUL character (U+0000)',
    );
    expect(unsafeRequestText({ params: {}, query: {}, body: '\ud800' })?.message).toBe(
      'the request body contains a lone UTF-16 surrogate',
    );
    expect(unsafeRequestText({ params: {}, query: { q: 'fine' }, body: { a: ['b'] } })).toBeNull();
  });
});

describe('query strings that do not decode', () => {
  it.each([
    ['an encoded lone high surrogate', '/v1/x?cursor=%ED%A0%80', 'cursor'],
    ['an encoded lone low surrogate', '/v1/x?a=1&cursor=%ED%B0%80', 'cursor'],
    ['a malformed escape', '/v1/x?cursor=%E0%A4%A', 'cursor'],
    ['an undecodable name', '/v1/x?%ED%A0%80=1', '%ED%A0%80'],
  ])('names the parameter with %s', (_label, url, name) => {
    expect(undecodableQueryParameter(url)).toBe(name);
    expect(unsafeRequestText({ params: {}, query: {}, body: undefined, url })?.details).toEqual({
      fields: [{ field: name, problems: [`${name} is not valid %-encoded UTF-8`] }],
    });
  });

  it('accepts well-formed queries', () => {
    expect(undecodableQueryParameter('/v1/x?a=%F0%9F%91%8D&b=c+d&e')).toBeNull();
    expect(undecodableQueryParameter('/v1/x')).toBeNull();
  });
});
