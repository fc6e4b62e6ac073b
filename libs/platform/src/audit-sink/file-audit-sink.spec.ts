import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditSinkConflictError } from './audit-sink';
import { FileAuditSink } from './file-audit-sink';

describe('FileAuditSink', () => {
  let root: string;
  let sink: FileAuditSink;

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'marvain-audit-sink-'));
    sink = new FileAuditSink(root);
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('reports its folder as its location', () => {
    expect(sink.location).toBe(root);
  });

  it('writes each object as a read-only file under the root holding exactly the body', async () => {
    const body = '{"seq":"1","hash":"abc","text":"héllo"}\n';
    await sink.put('chains/c1/00000001.json', body);
    const file = path.join(root, 'chains', 'c1', '00000001.json');
    expect(readFileSync(file, 'utf8')).toBe(body);
    expect(statSync(file).mode & 0o777).toBe(0o444);
    expect(await sink.get('chains/c1/00000001.json')).toBe(body);
  });

  it('accepts the same bytes again, so a retried write is harmless', async () => {
    await sink.put('chains/c1/00000001.json', 'entry-1');
    await expect(sink.put('chains/c1/00000001.json', 'entry-1')).resolves.toBeUndefined();
    expect(await sink.get('chains/c1/00000001.json')).toBe('entry-1');
  });

  it('refuses different bytes for an existing key and leaves the original untouched', async () => {
    await sink.put('chains/c1/00000001.json', 'original');
    const attempt = sink.put('chains/c1/00000001.json', 'tampered');
    await expect(attempt).rejects.toBeInstanceOf(AuditSinkConflictError);
    await expect(sink.put('chains/c1/00000001.json', 'tampered')).rejects.toMatchObject({
      key: 'chains/c1/00000001.json',
    });
    expect(await sink.get('chains/c1/00000001.json')).toBe('original');
    expect(readFileSync(path.join(root, 'chains', 'c1', '00000001.json'), 'utf8')).toBe('original');
  });

  it('returns null for a key that was never written', async () => {
    expect(await sink.get('chains/c1/00000099.json')).toBeNull();
    expect(await sink.get('nowhere/at/all')).toBeNull();
  });

  it('lists the keys under a prefix in ascending order, and nothing for an unknown prefix', async () => {
    for (const seq of ['00000010', '00000002', '00000001', '00000003']) {
      await sink.put(`chains/c1/${seq}.json`, seq);
    }
    await sink.put('chains/c2/00000001.json', 'other chain');
    expect(await sink.list('chains/c1')).toEqual([
      'chains/c1/00000001.json',
      'chains/c1/00000002.json',
      'chains/c1/00000003.json',
      'chains/c1/00000010.json',
    ]);
    expect(await sink.list('chains/c2')).toEqual(['chains/c2/00000001.json']);
    expect(await sink.list('chains/c3')).toEqual([]);
  });

  it('lists the same keys whether or not the prefix ends with a slash', async () => {
    await sink.put('chains/c1/2', 'b');
    await sink.put('chains/c1/1', 'a');
    expect(await sink.list('chains/c1/')).toEqual(['chains/c1/1', 'chains/c1/2']);
  });

  it('every listed key can be read back', async () => {
    await sink.put('chains/c1/a', 'A');
    await sink.put('chains/c1/b', 'B');
    const keys = await sink.list('chains/c1');
    expect(await Promise.all(keys.map((key) => sink.get(key)))).toEqual(['A', 'B']);
  });

  it.each(['../escape', 'chains/../../escape', 'chains//c1', '/chains/c1', 'chains/c1/', '', '..'])(
    'refuses the key %j',
    async (key) => {
      await expect(sink.put(key, 'x')).rejects.toThrow(/invalid audit key/);
      await expect(sink.get(key)).rejects.toThrow(/invalid audit key/);
    },
  );

  it.each(['..', '../escape', 'chains/../..', 'chains//c1'])('refuses to list the prefix %j', async (prefix) => {
    await expect(sink.list(prefix)).rejects.toThrow(/invalid audit key/);
  });

  it('writes nothing outside its root for a refused key', async () => {
    const outside = path.join(path.dirname(root), `${path.basename(root)}-escape`);
    await expect(sink.put(`../${path.basename(outside)}`, 'x')).rejects.toThrow();
    expect(() => statSync(outside)).toThrow();
  });
});
