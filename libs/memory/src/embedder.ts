import { createHash } from 'node:crypto';

/** Text to vector, for memory recall where the database has vector search. */
export interface Embedder {
  readonly dimensions: number;
  readonly name: string;
  embed(texts: readonly string[]): Promise<number[][]>;
}
export const EMBEDDER = Symbol('Embedder');

/** The dimension of `memories.embedding`; every embedder must produce it. */
export const EMBEDDING_DIMENSIONS = 256;

/**
 * Feature hashing over word unigrams and bigrams, L2-normalised: no network, no model, and
 * the same text always maps to the same vector, so recall is testable offline.
 */
export class FeatureHashingEmbedder implements Embedder {
  readonly name = 'feature-hashing-v1';
  constructor(readonly dimensions = EMBEDDING_DIMENSIONS) {}

  embed(texts: readonly string[]): Promise<number[][]> {
    return Promise.resolve(texts.map((text) => this.embedOne(text)));
  }

  private embedOne(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
    const features = [...words, ...words.slice(1).map((w, i) => [words[i], w].join(' '))];
    for (const feature of features) {
      const digest = createHash('sha256').update(feature).digest();
      const index = digest.readUInt32BE(0) % this.dimensions;
      vector[index] = (vector[index] ?? 0) + ((digest[4] ?? 0) & 1 ? 1 : -1);
    }
    const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
    return norm === 0 ? vector : vector.map((v) => Number((v / norm).toFixed(6)));
  }
}
