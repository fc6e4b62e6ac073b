import { canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it('gives the same bytes whatever order the keys were written in', () => {
    const a = canonicalJson({ b: 1, a: 2, c: { z: true, y: null } });
    const b = canonicalJson({ c: { y: null, z: true }, a: 2, b: 1 });
    expect(a).toBe(b);
    expect(a).toBe('{"a":2,"b":1,"c":{"y":null,"z":true}}');
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 does', () => {
    // By code point U+1F600 would sort after U+FB01; by UTF-16 code unit (0xD83D) it sorts before.
    const value = { '\uFB01': 1, '\u{1F600}': 2, '\u20AC': 3, a: 4, B: 5, '1': 6 };
    expect(canonicalJson(value)).toBe('{"1":6,"B":5,"a":4,"\u20AC":3,"\u{1F600}":2,"\uFB01":1}');
  });

  it('writes nested objects and arrays without whitespace, keeping array order', () => {
    const value = { list: [3, 1, 2, { y: 'b', x: 'a' }, [{ k: 1, j: 0 }]], empty: {}, none: [] };
    expect(canonicalJson(value)).toBe('{"empty":{},"list":[3,1,2,{"x":"a","y":"b"},[{"j":0,"k":1}]],"none":[]}');
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });

  it('drops undefined members, but keeps null', () => {
    expect(canonicalJson({ a: undefined, b: null, c: { d: undefined } })).toBe('{"b":null,"c":{}}');
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it('writes undefined array items as null, as JSON does', () => {
    expect(canonicalJson([1, undefined, 2])).toBe('[1,null,2]');
  });

  it('writes Dates as ISO strings, at the top level and nested', () => {
    const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    expect(canonicalJson(when)).toBe('"2024-01-02T03:04:05.006Z"');
    expect(canonicalJson({ at: when, list: [when] })).toBe(
      '{"at":"2024-01-02T03:04:05.006Z","list":["2024-01-02T03:04:05.006Z"]}',
    );
  });

  it('escapes strings and keys as JSON does', () => {
    expect(canonicalJson({ 'quote"key': 'line\nbreak "q" \\ \u0001' })).toBe(
      '{"quote\\"key":"line\\nbreak \\"q\\" \\\\ \\u0001"}',
    );
  });

  it('writes primitives as JSON', () => {
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
    expect(canonicalJson('text')).toBe('"text"');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(1e21)).toBe('1e+21');
  });

  it('refuses non-finite numbers, wherever they are', () => {
    expect(() => canonicalJson(NaN)).toThrow(TypeError);
    expect(() => canonicalJson(Infinity)).toThrow(TypeError);
    expect(() => canonicalJson({ a: { b: [1, -Infinity] } })).toThrow(/non-finite/);
    expect(() => canonicalJson({ a: NaN })).toThrow(/non-finite/);
  });
});
