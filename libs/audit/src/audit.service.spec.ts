import { createHash } from 'node:crypto';
import { canonicalJson } from '@marvain/platform';
import { auditKey, hashEntry } from './audit.service';
import type { AuditEntry } from './audit.types';

const unsigned: Omit<AuditEntry, 'hash'> = {
  chain_id: '7d1b3c1e-2b7a-4c1e-9f0a-1a2b3c4d5e6f',
  seq: 4,
  prev_hash: 'a'.repeat(64),
  ts: '2026-11-02T10:00:00.000Z',
  agent_id: '7d1b3c1e-2b7a-4c1e-9f0a-1a2b3c4d5e6f',
  action: 'action.approved',
  actor: { type: 'user', id: 'u1' },
  subject: { type: 'action', id: 'a1' },
  details: { kind: 'send_message' },
};

describe('hashEntry', () => {
  it('is the SHA-256 of the canonical JSON, so anyone can recompute it from the stored copy', () => {
    expect(hashEntry(unsigned)).toBe(createHash('sha256').update(canonicalJson(unsigned)).digest('hex'));
    expect(hashEntry(unsigned)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the order fields were written in', () => {
    const reordered = Object.fromEntries(Object.entries(unsigned).reverse()) as Omit<AuditEntry, 'hash'>;
    expect(hashEntry(reordered)).toBe(hashEntry(unsigned));
  });

  it.each([
    ['seq', { seq: 5 }],
    ['prev_hash', { prev_hash: 'b'.repeat(64) }],
    ['ts', { ts: '2026-11-02T10:00:00.001Z' }],
    ['action', { action: 'action.rejected' }],
    ['actor', { actor: { type: 'user', id: 'u2' } }],
    ['details', { details: { kind: 'send_message', extra: true } }],
  ])('changes when %s changes', (_field, change) => {
    expect(hashEntry({ ...unsigned, ...change })).not.toBe(hashEntry(unsigned));
  });
});

describe('auditKey', () => {
  it('names the object chains/<chain>/<seq>.json with a zero-padded sequence', () => {
    expect(auditKey('system', 7)).toBe('chains/system/000000000007.json');
  });

  it('sorts keys by name in sequence order, which verification relies on', () => {
    const seqs = [1, 2, 9, 10, 11, 99, 100, 1000, 123456789];
    const keys = seqs.map((seq) => auditKey('c', seq));
    expect([...keys].reverse().sort()).toEqual(keys);
  });
});
