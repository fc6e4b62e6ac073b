import { chmod, stat } from 'node:fs/promises';

/** A folder or file that holds transcripts or credentials: only its owner may read it. */
export interface PrivatePath {
  path: string;
  kind: 'folder' | 'file';
}

const octal = (mode: number): string => `0${mode.toString(8)}`;

/**
 * Takes group and other permissions off each existing path (0755 → 0700, 0644 → 0600) and
 * returns one line per path it changed. A path it cannot change (another user's) is refused
 * with the command that fixes it: the hub must not run with transcripts others can read.
 */
export async function tightenPrivatePaths(paths: readonly PrivatePath[]): Promise<string[]> {
  const changed: string[] = [];
  for (const { path, kind } of paths) {
    let mode: number;
    try {
      mode = (await stat(path)).mode & 0o777;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        continue;
      }
      throw error;
    }
    if ((mode & 0o077) === 0) {
      continue;
    }
    const tightened = mode & 0o700;
    try {
      await chmod(path, tightened);
    } catch (error) {
      throw new Error(
        `the ${kind} ${path} can be read by other users (mode ${octal(mode)}) and could not be made private ` +
          `(${(error as NodeJS.ErrnoException).code ?? String(error)}); run: chmod ${kind === 'folder' ? '700' : '600'} ${path}`,
      );
    }
    changed.push(
      `the ${kind} ${path} could be read by other users (mode ${octal(mode)}); made it private (mode ${octal(tightened)})`,
    );
  }
  return changed;
}
