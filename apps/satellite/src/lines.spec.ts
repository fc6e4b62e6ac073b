import { LineSplitter } from './lines';

describe('stdin lines', () => {
  it('splits lines across chunks, and refuses one longer than the cap without holding it', () => {
    const lines: string[] = [];
    const tooLong: number[] = [];
    const splitter = new LineSplitter(
      10,
      (line) => lines.push(line),
      (bytes) => tooLong.push(bytes),
    );
    splitter.push(Buffer.from('hel'));
    splitter.push(Buffer.from('lo\nwor'));
    splitter.push(Buffer.from('ld\n' + 'z'.repeat(8)));
    splitter.push(Buffer.from('z'.repeat(8)));
    splitter.push(Buffer.from('zzz\nnext\nlast'));
    splitter.end();
    expect(lines).toEqual(['hello', 'world', 'next', 'last']);
    expect(tooLong).toEqual([16]);
  });
});
