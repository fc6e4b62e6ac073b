import { EMBEDDING_DIMENSIONS, FeatureHashingEmbedder } from './embedder';

const embedder = new FeatureHashingEmbedder();

function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

const norm = (v: readonly number[]): number => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));

describe('FeatureHashingEmbedder', () => {
  it('produces 256-dimensional vectors, the size of memories.embedding', async () => {
    const [vector] = await embedder.embed(['the package arrived']);
    expect(EMBEDDING_DIMENSIONS).toBe(256);
    expect(embedder.dimensions).toBe(256);
    expect(vector).toHaveLength(256);
    expect(vector?.every((x) => Number.isFinite(x))).toBe(true);
  });

  it('returns one vector per text, in order', async () => {
    const texts = ['alpha', 'beta gamma', 'delta'];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    for (const [i, text] of texts.entries()) {
      expect(vectors[i]).toEqual((await embedder.embed([text]))[0]);
    }
    expect(await embedder.embed([])).toEqual([]);
  });

  it('is deterministic: the same text gives the same vector, across instances', async () => {
    const text = 'Sam likes green tea in the morning';
    const [a] = await embedder.embed([text]);
    const [b] = await new FeatureHashingEmbedder().embed([text]);
    expect(a).toEqual(b);
  });

  it('ignores case and punctuation', async () => {
    const [a, b] = await embedder.embed(['Tell Sam: the package ARRIVED!', 'tell sam the package arrived']);
    expect(a).toEqual(b);
  });

  it.each(['the package arrived', 'Sam likes green tea', 'x', 'Zoë mag Kaffee ☕ sehr', 'a '.repeat(500)])(
    'returns a unit-length vector for %p',
    async (text) => {
      const [vector] = await embedder.embed([text]);
      expect(norm(vector as number[])).toBeCloseTo(1, 4);
    },
  );

  it('places similar texts closer together than unrelated ones', async () => {
    const [tea, teaAgain, package1, package2, weather] = await embedder.embed([
      'Sam likes green tea in the morning',
      'in the morning Sam likes green tea with honey',
      'the package arrived at the front door',
      'a package arrived at the door',
      'heavy rain is expected tomorrow afternoon',
    ]);
    const v = (x: number[] | undefined): number[] => x as number[];
    expect(cosine(v(tea), v(teaAgain))).toBeGreaterThan(cosine(v(tea), v(package1)));
    expect(cosine(v(tea), v(teaAgain))).toBeGreaterThan(cosine(v(tea), v(weather)));
    expect(cosine(v(package1), v(package2))).toBeGreaterThan(cosine(v(package1), v(weather)));
    expect(cosine(v(package1), v(package2))).toBeGreaterThan(0.5);
    expect(Math.abs(cosine(v(tea), v(weather)))).toBeLessThan(0.3);
  });

  it('honours a different dimension when asked', async () => {
    const [vector] = await new FeatureHashingEmbedder(64).embed(['the package arrived']);
    expect(vector).toHaveLength(64);
    expect(norm(vector as number[])).toBeCloseTo(1, 4);
  });
});
