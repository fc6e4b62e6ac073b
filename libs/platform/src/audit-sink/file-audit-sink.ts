import { chmod, mkdir, open, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { AuditSinkConflictError, type AuditSink } from './audit-sink';

/**
 * Local write-once audit storage: each object is a file created with O_EXCL ('wx') and then
 * made read-only, so nothing in Marvain can overwrite it (the operating system's owner still can,
 * which is what verification exists to catch).
 */
export class FileAuditSink implements AuditSink {
  constructor(private readonly root: string) {}

  get location(): string {
    return this.root;
  }

  async put(key: string, body: string): Promise<void> {
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    let handle;
    try {
      handle = await open(file, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const existing = await readFile(file, 'utf8');
      if (existing !== body) throw new AuditSinkConflictError(key);
      return;
    }
    try {
      await handle.writeFile(body, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(file, 0o444);
  }

  async get(key: string): Promise<string | null> {
    try {
      return await readFile(this.pathOf(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix.replace(/\/$/, '');
    const dir = this.pathOf(base);
    try {
      const names = await readdir(dir);
      return names.filter((n) => !n.startsWith('.')).sort().map((n) => `${base}/${n}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '')) throw new Error(`invalid audit key ${key}`);
    return path.join(this.root, ...key.split('/'));
  }
}
