import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AuditFolderBinding, AuditFolderMismatchError, DATABASE_BINDING_KEY } from './audit-folder-binding';
import { FileAuditSink } from './file-audit-sink';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

describe('AuditFolderBinding', () => {
  let root: string;
  let sink: FileAuditSink;
  let binding: AuditFolderBinding;
  const pg = { kind: 'postgres' as const, url: 'postgres://marvain:secret@db.example:5432/hub' };

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'marvain-binding-'));
    sink = new FileAuditSink(path.join(root, 'audit'));
    binding = new AuditFolderBinding(sink);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('binds an empty folder to the first database, then accepts only that one', async () => {
    await expect(binding.check({ fresh: true, databaseId: null }, pg)).resolves.toBeUndefined();
    await binding.record(A);
    await binding.record(A); // idempotent
    expect(await sink.get(DATABASE_BINDING_KEY)).toBe(`{"database_id":"${A}"}\n`);
    await expect(binding.check({ fresh: false, databaseId: A }, pg)).resolves.toBeUndefined();

    const other = binding.check({ fresh: false, databaseId: B }, pg);
    await expect(other).rejects.toBeInstanceOf(AuditFolderMismatchError);
    await expect(binding.check({ fresh: false, databaseId: B }, pg)).rejects.toThrow(
      `holds the audit trail of database ${A}, but this database (PostgreSQL at db.example:5432/hub) is database ${B}`,
    );
    await expect(binding.check({ fresh: true, databaseId: null }, pg)).rejects.toThrow(
      /is new and empty\. Nothing was written/,
    );
    await expect(binding.record(B)).rejects.toBeInstanceOf(AuditFolderMismatchError);
  });

  it('never prints the database password', async () => {
    await binding.record(A);
    const message = await binding
      .check({ fresh: false, databaseId: B }, pg)
      .catch((error: unknown) => (error as Error).message);
    expect(message).not.toContain('secret');
  });

  it('treats a folder written before identities existed as taken for a new database, but lets its own (older) database bind it', async () => {
    await sink.put('chains/system/000000000001.json', '{}');
    await expect(binding.check({ fresh: true, databaseId: null }, pg)).rejects.toThrow(
      /holds the audit trail of an earlier database/,
    );
    await expect(binding.check({ fresh: false, databaseId: null }, pg)).resolves.toBeUndefined();
  });

  it('refuses, before opening, an embedded database that does not exist when the folder is bound', async () => {
    const dataDir = path.join(root, 'pglite');
    const target = { kind: 'pglite' as const, dataDir };
    await expect(binding.beforeOpen(target)).resolves.toBeUndefined(); // unbound folder: a first start
    await binding.record(A);
    await expect(binding.beforeOpen(target)).rejects.toThrow(`the embedded database ${dataDir} does not exist`);
    mkdirSync(dataDir);
    writeFileSync(path.join(dataDir, 'PG_VERSION'), '17\n');
    await expect(binding.beforeOpen(target)).resolves.toBeUndefined(); // existing: check() decides
  });

  it('refuses a hand-edited binding file with a message of its own', async () => {
    await sink.put(DATABASE_BINDING_KEY, 'not json');
    await expect(binding.check({ fresh: false, databaseId: A }, pg)).rejects.toThrow(/names no database/);
  });
});
