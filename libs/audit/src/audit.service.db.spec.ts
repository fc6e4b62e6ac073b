import { chmod, mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Logger } from '@nestjs/common';
import { sql } from 'kysely';
import { TransactionRunner } from '@marvain/db';
import { testDatabaseKind } from '@marvain/db/testing';
import { AUDIT_SINK, canonicalJson, FileAuditSink, type AuditSink } from '@marvain/platform';
import {
  insertAgents,
  openFeatureTestContext,
  testHubConfig,
  type FeatureTestContext,
} from '@marvain/platform/testing';
import { AuditModule } from './audit.module';
import { auditKey, AuditService, hashEntry } from './audit.service';
import type { AuditEntry, AuditRecord } from './audit.types';

/** The real file sink, with a switch that makes it fail as an unreachable S3 bucket would. */
class SwitchableSink implements AuditSink {
  down = false;
  puts = 0;
  /** While set, writes wait for it (a slow network); `entered` resolves when one starts waiting. */
  gate: Promise<void> | null = null;
  entered: Promise<void>;
  private onEnter!: () => void;
  constructor(private readonly inner: AuditSink) {
    this.entered = new Promise((resolve) => (this.onEnter = resolve));
  }
  get location(): string {
    return this.inner.location;
  }
  async put(key: string, body: string): Promise<void> {
    if (this.down) {
      throw new Error('audit sink unavailable');
    }
    if (this.gate) {
      this.onEnter();
      await this.gate;
    }
    this.puts += 1;
    await this.inner.put(key, body);
  }
  get(key: string): Promise<string | null> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
}

class Rollback extends Error {}

jest.setTimeout(60_000);

describe(`AuditService (${testDatabaseKind()})`, () => {
  let context: FeatureTestContext;
  let audit: AuditService;
  let transactions: TransactionRunner;
  let sink: SwitchableSink;
  let auditDir: string;

  beforeAll(async () => {
    const config = testHubConfig();
    auditDir = config.auditDir;
    sink = new SwitchableSink(new FileAuditSink(config.auditDir));
    context = await openFeatureTestContext([AuditModule], {
      config,
      customize: (builder) => builder.overrideProvider(AUDIT_SINK).useValue(sink),
      beforeClose: () => audit.flush().catch(() => undefined),
    });
    audit = context.moduleRef.get(AuditService);
    transactions = context.moduleRef.get(TransactionRunner);
  });

  afterAll(() => context.close());

  afterEach(async () => {
    // Leave nothing half-copied for the next test.
    sink.down = false;
    await audit.flush();
  });

  /** A fresh agent, so every test has a chain of its own. */
  async function newAgent(name = 'audit-test'): Promise<string> {
    const [agentId] = await insertAgents(context.db.db, [name]);
    return agentId;
  }

  const record = (agentId: string, n: number): AuditRecord => ({
    agentId,
    action: 'test.recorded',
    actor: { type: 'user', id: '00000000-0000-4000-8000-000000000001' },
    subject: { type: 'thing', id: `thing-${n}` },
    details: { n, note: `entry ${n}` },
  });

  async function appendCommitted(agentId: string, count: number): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for (let n = 1; n <= count; n += 1) {
      entries.push(await transactions.run((tx) => audit.append(tx, record(agentId, n))));
    }
    await audit.flush();
    return entries;
  }

  const fileOf = (chainId: string, seq: number): string => path.join(auditDir, ...auditKey(chainId, seq).split('/'));

  async function storedSeqs(chainId: string): Promise<number[]> {
    const names = await readdir(path.join(auditDir, 'chains', chainId)).catch(() => [] as string[]);
    return names.map((n) => Number(n.replace(/\.json$/, ''))).sort((a, b) => a - b);
  }

  async function rewrite(chainId: string, seq: number, change: (entry: AuditEntry) => AuditEntry): Promise<void> {
    const file = fileOf(chainId, seq);
    await chmod(file, 0o644);
    const entry = JSON.parse(await readFile(file, 'utf8')) as AuditEntry;
    await writeFile(file, canonicalJson(change(entry)), 'utf8');
  }

  it('reports an empty, valid chain for an agent with no entries', async () => {
    const agentId = await newAgent();
    await expect(audit.verify(agentId)).resolves.toEqual({ ok: true, chain_id: agentId, entries: 0, head: null });
  });

  it('chains committed entries 1..n, copies each to a read-only file, and verifies with the recorded head', async () => {
    const agentId = await newAgent();
    const entries = await appendCommitted(agentId, 3);

    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(entries[0]!.prev_hash).toBe('0'.repeat(64));
    expect(entries[1]!.prev_hash).toBe(entries[0]!.hash);
    expect(entries[2]!.prev_hash).toBe(entries[1]!.hash);
    for (const entry of entries) {
      const { hash, ...unsigned } = entry;
      expect(hash).toBe(hashEntry(unsigned));
      const file = fileOf(agentId, entry.seq);
      expect(await readFile(file, 'utf8')).toBe(canonicalJson(entry));
    }
    expect(await storedSeqs(agentId)).toEqual([1, 2, 3]);

    const verification = await audit.verify(agentId);
    expect(verification).toEqual({ ok: true, chain_id: agentId, entries: 3, head: { seq: 3, hash: entries[2]!.hash } });
  });

  it('keeps chains of different agents independent', async () => {
    const a = await newAgent('a');
    const b = await newAgent('b');
    await appendCommitted(a, 2);
    const [onlyB] = await appendCommitted(b, 1);
    expect(onlyB!.seq).toBe(1);
    expect((await audit.verify(a)).entries).toBe(2);
    expect(await audit.verify(b)).toMatchObject({ ok: true, entries: 1, head: { seq: 1, hash: onlyB!.hash } });
  });

  it('drops an entry whose transaction rolls back: no gap, and the next entry takes its place', async () => {
    const agentId = await newAgent();
    const [first] = await appendCommitted(agentId, 1);

    let doomed: AuditEntry | undefined;
    await expect(
      transactions.run(async (tx) => {
        doomed = await audit.append(tx, { ...record(agentId, 99), action: 'test.rolled-back' });
        throw new Rollback('the change this entry records failed');
      }),
    ).rejects.toBeInstanceOf(Rollback);
    expect(doomed?.seq).toBe(2);

    const next = await transactions.run((tx) => audit.append(tx, record(agentId, 2)));
    await audit.flush();
    expect(next.seq).toBe(2);
    expect(next.prev_hash).toBe(first!.hash);

    expect(await storedSeqs(agentId)).toEqual([1, 2]);
    const stored = JSON.parse(await readFile(fileOf(agentId, 2), 'utf8')) as AuditEntry;
    expect(stored.action).toBe('test.recorded');
    const rows = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM audit_entries WHERE chain_id = ${agentId} AND body LIKE '%test.rolled-back%'`.execute(
      context.db.db,
    );
    expect(rows.rows[0]!.n).toBe(0);
    expect(await audit.verify(agentId)).toMatchObject({ ok: true, entries: 2, head: { seq: 2, hash: next.hash } });
  });

  it('detects a stored entry whose content was altered, at that entry', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 4);
    await rewrite(agentId, 2, (entry) => ({ ...entry, details: { ...entry.details, note: 'nothing happened here' } }));

    const verification = await audit.verify(agentId);
    expect(verification.ok).toBe(false);
    expect(verification.first_bad_seq).toBe(2);
    expect(verification.reason).toMatch(/altered/);
  });

  it('detects an altered entry even when only its formatting changed', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 2);
    const file = fileOf(agentId, 1);
    await chmod(file, 0o644);
    await writeFile(file, JSON.stringify(JSON.parse(await readFile(file, 'utf8')), null, 2), 'utf8');

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({ ok: false, first_bad_seq: 1 });
  });

  it('detects a deleted entry in the middle of the chain, at its sequence number', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 5);
    await unlink(fileOf(agentId, 3));

    const verification = await audit.verify(agentId);
    expect(verification.ok).toBe(false);
    expect(verification.first_bad_seq).toBe(3);
    expect(verification.reason).toMatch(/missing/);
  });

  it('detects a deleted newest entry against the recorded head', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 3);
    await unlink(fileOf(agentId, 3));

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({ ok: false, first_bad_seq: 3, head: { seq: 3 } });
  });

  it('detects an altered entry that was re-hashed consistently: its copies differ, and the next entry no longer links', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 4);
    await rewrite(agentId, 2, (entry) => {
      const { hash: _old, ...unsigned } = entry;
      const forged = { ...unsigned, details: { ...unsigned.details, note: 'forged' } };
      return { ...forged, hash: hashEntry(forged) };
    });

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({
      ok: false,
      first_bad_seq: 2,
      reason: expect.stringMatching(/entry 2: the write-once object .* differs from the database row/),
    });
    expect(verification.problems?.map((p) => [p.seq, p.kind])).toEqual([
      [2, 'copies_differ'],
      [3, 'broken_link'],
    ]);
  });

  it('names a whole chain re-hashed from its first entry: copies differ from entry 1, and the head differs by hash, not by seq', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 3);
    let prev = '0'.repeat(64);
    for (let seq = 1; seq <= 3; seq += 1) {
      await rewrite(agentId, seq, (entry) => {
        const { hash: _old, ...unsigned } = entry;
        const forged = { ...unsigned, prev_hash: prev, details: { ...unsigned.details, note: 'rewritten' } };
        prev = hashEntry(forged);
        return { ...forged, hash: prev };
      });
    }

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({ ok: false, first_bad_seq: 1 });
    expect(verification.problems?.map((p) => [p.seq, p.kind])).toEqual([
      [1, 'copies_differ'],
      [2, 'copies_differ'],
      [3, 'copies_differ'],
      [3, 'head_mismatch'],
    ]);
    expect(verification.problems?.[3]?.message).toMatch(/recorded head hash \(\w+…\) is not entry 3's hash/);
    expect(verification.reason).not.toMatch(/seq (\d+) does not match .*seq \1/);
  });

  it('reports a stray file as a stray object, not as a missing entry', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 2);
    await writeFile(path.join(auditDir, 'chains', agentId, 'notes.txt'), 'left here by someone', 'utf8');

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({ ok: false, entries: 2, first_bad_seq: 0 });
    expect(verification.problems).toEqual([
      { seq: null, kind: 'stray_object', message: expect.stringContaining(`chains/${agentId}/notes.txt`) },
    ]);
  });

  it('reports a directory in place of an entry as unreadable, without failing', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 3);
    await unlink(fileOf(agentId, 2));
    await mkdir(fileOf(agentId, 2));

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({
      ok: false,
      first_bad_seq: 2,
      reason: expect.stringMatching(/entry 2: its object .* cannot be read \(EISDIR\)/),
    });
    expect(verification.problems?.map((p) => p.kind)).toEqual(['unreadable_object']);
  });

  it('compares the database copy: an altered row, a missing row, and an object beyond the head are each named', async () => {
    const agentId = await newAgent();
    const entries = await appendCommitted(agentId, 4);
    await sql`UPDATE audit_entries SET body = replace(body, 'entry 2', 'entry two') WHERE chain_id = ${agentId} AND seq = 2`.execute(
      context.db.db,
    );
    await sql`DELETE FROM audit_entries WHERE chain_id = ${agentId} AND seq = 3`.execute(context.db.db);
    const { hash: _h, ...unsigned } = { ...entries[3]!, seq: 5, prev_hash: entries[3]!.hash };
    await writeFile(fileOf(agentId, 5), canonicalJson({ ...unsigned, hash: hashEntry(unsigned) }), 'utf8');

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({
      ok: false,
      first_bad_seq: 2,
      reason: expect.stringMatching(/entry 2: its database row was altered/),
    });
    expect(verification.problems?.map((p) => [p.seq, p.kind])).toEqual([
      [2, 'altered_row'],
      [3, 'missing_row'],
      [5, 'extra_entry'],
    ]);
  });

  it('names a head that claims more entries than exist, by sequence number', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 2);
    await sql`UPDATE audit_state SET last_seq = 3 WHERE chain_id = ${agentId}`.execute(context.db.db);

    const verification = await audit.verify(agentId);
    expect(verification).toMatchObject({
      ok: false,
      first_bad_seq: 3,
      reason: expect.stringMatching(/entry 3 is missing from the write-once store/),
    });
  });

  it('a row that conflicts with its write-once object is named by verify, and every other chain is still copied', async () => {
    const errorLog = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const clashing = await newAgent('clashing');
      const other = await newAgent('other');
      await appendCommitted(clashing, 1);
      // An object already at seq 2 (left by another database using this folder).
      await mkdir(path.dirname(fileOf(clashing, 2)), { recursive: true });
      await writeFile(fileOf(clashing, 2), '{"written":"by another database"}', 'utf8');
      await transactions.run((tx) => audit.append(tx, record(clashing, 2)));
      const otherEntry = await transactions.run((tx) => audit.append(tx, record(other, 1)));

      await expect(audit.flush()).resolves.toBeGreaterThanOrEqual(1);
      expect(await readFile(fileOf(other, 1), 'utf8')).toBe(canonicalJson(otherEntry));
      expect(await audit.verify(other)).toMatchObject({ ok: true, entries: 1 });

      const verification = await audit.verify(clashing);
      expect(verification).toMatchObject({ ok: false, first_bad_seq: 2 });
      expect(verification.problems?.map((p) => [p.seq, p.kind])).toEqual([[2, 'wrong_position']]);
      expect(errorLog).toHaveBeenCalledWith(
        expect.stringContaining(`${auditKey(clashing, 2)} conflicts with the write-once object`),
      );
    } finally {
      errorLog.mockRestore();
    }
  });

  it('flush is idempotent: a second flush writes nothing and does not fail', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 3);
    const putsBefore = sink.puts;

    await expect(audit.flush()).resolves.toBe(0);
    await expect(audit.flush()).resolves.toBe(0);
    expect(sink.puts).toBe(putsBefore);
    expect(await storedSeqs(agentId)).toEqual([1, 2, 3]);
    expect(await audit.verify(agentId)).toMatchObject({ ok: true, entries: 3 });
  });

  it('copies an entry again without failing when its copy was not recorded (crash between write and mark)', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 3);
    await sql`UPDATE audit_entries SET sunk_at = NULL WHERE chain_id = ${agentId}`.execute(context.db.db);

    await expect(audit.flush()).resolves.toBe(3);
    await expect(audit.flush()).resolves.toBe(0);
    expect(await audit.verify(agentId)).toMatchObject({ ok: true, entries: 3 });
  });

  it('writes an entry whose copy failed on a later flush, after which the chain verifies', async () => {
    const agentId = await newAgent();
    await appendCommitted(agentId, 1);

    sink.down = true;
    const entry = await transactions.run((tx) => audit.append(tx, record(agentId, 2)));
    // The commit stands even though the sink is down; the copy fails and is left for later.
    await expect(audit.flush()).rejects.toThrow(/audit sink unavailable/);
    expect(await storedSeqs(agentId)).toEqual([1]);
    const pending = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM audit_entries WHERE chain_id = ${agentId} AND sunk_at IS NULL`.execute(
      context.db.db,
    );
    expect(pending.rows[0]!.n).toBe(1);

    sink.down = false;
    await expect(audit.flush()).resolves.toBe(1);
    expect(await storedSeqs(agentId)).toEqual([1, 2]);
    expect(await readFile(fileOf(agentId, 2), 'utf8')).toBe(canonicalJson(entry));
    expect(await audit.verify(agentId)).toEqual({
      ok: true,
      chain_id: agentId,
      entries: 2,
      head: { seq: 2, hash: entry.hash },
    });
  });

  it('gives 20 concurrent transactions on one new chain the contiguous sequence 1..20', async () => {
    const agentId = await newAgent();
    const entries = await Promise.all(
      Array.from({ length: 20 }, (_, i) => transactions.run((tx) => audit.append(tx, record(agentId, i + 1)))),
    );
    await audit.flush();

    expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const bySeq = new Map(entries.map((e) => [e.seq, e]));
    for (let seq = 2; seq <= 20; seq += 1) {
      expect(bySeq.get(seq)!.prev_hash).toBe(bySeq.get(seq - 1)!.hash);
    }
    expect(await storedSeqs(agentId)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await audit.verify(agentId)).toEqual({
      ok: true,
      chain_id: agentId,
      entries: 20,
      head: { seq: 20, hash: bySeq.get(20)!.hash },
    });
  });

  it('lets a copy under way finish when the hub shuts down, instead of abandoning it', async () => {
    const agentId = await newAgent();
    const slow = new SwitchableSink(new FileAuditSink(auditDir));
    let release!: () => void;
    slow.gate = new Promise((resolve) => (release = resolve));
    // A second hub on the same database and data folder, closed on its own.
    const hub = await openFeatureTestContext([AuditModule], {
      db: context.db,
      config: context.config,
      customize: (builder) => builder.overrideProvider(AUDIT_SINK).useValue(slow),
    });
    const hubAudit = hub.moduleRef.get(AuditService);
    await hub.moduleRef.get(TransactionRunner).run((tx) => hubAudit.append(tx, record(agentId, 1)));
    await slow.entered; // the after-commit copy is waiting on the sink

    const closing = hub.close();
    release();
    await closing;

    const pending = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM audit_entries WHERE chain_id = ${agentId} AND sunk_at IS NULL`.execute(
      context.db.db,
    );
    expect(pending.rows[0]!.n).toBe(0);
    expect(await storedSeqs(agentId)).toEqual([1]);
  });

  it('records hub-wide entries on the system chain', async () => {
    const before = (await audit.verify(null)).entries;
    const entry = await transactions.run((tx) =>
      audit.append(tx, {
        agentId: null,
        action: 'schema.migrated',
        actor: { type: 'system', id: 'test' },
        details: { version: 'x' },
      }),
    );
    expect(entry.chain_id).toBe('system');
    expect(entry.seq).toBe(before + 1);
    expect(await audit.verify(null)).toMatchObject({
      ok: true,
      chain_id: 'system',
      entries: before + 1,
      head: { seq: before + 1, hash: entry.hash },
    });
  });
});
