import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
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
    // Write a complete, read-only temp file, then link it into place: link() fails if the key
    // exists, so an object appears whole or not at all and is never overwritten.
    const temp = path.join(
      path.dirname(file),
      `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(body, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await chmod(temp, 0o444);
      await link(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
      const existing = await readFile(file, 'utf8');
      if (existing !== body) {
        throw new AuditSinkConflictError(key);
      }
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string): Promise<string | null> {
    try {
      return await readFile(this.pathOf(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return null;
      }
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix.replace(/\/$/, '');
    const dir = this.pathOf(base);
    try {
      const names = await readdir(dir);
      return names
        .filter((n) => !n.startsWith('.') && !n.endsWith('.tmp'))
        .sort()
        .map((n) => `${base}/${n}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return [];
      }
      throw error;
    }
  }

  private pathOf(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === '')) {
      throw new Error(`invalid audit key ${key}`);
    }
    return path.join(this.root, ...key.split('/'));
  }
}
