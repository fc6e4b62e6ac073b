import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';

/** What the operator's config file records about their hub. It holds credentials: mode 0600. */
export interface OperatorConfig {
  hub_url?: string;
  agent_id?: string;
  space_id?: string;
  device_id?: string;
  device_token?: string;
  user_id?: string;
  user_token?: string;
  [key: string]: unknown;
}

const HEADER = '# Marvain operator config. It contains credentials: keep it private (the hub writes it with mode 0600).\n';

export async function readOperatorConfig(file: string): Promise<OperatorConfig | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const parsed: unknown = parse(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file} is not a YAML mapping`);
  return parsed as OperatorConfig;
}

/** Merges `values` into the file (keeping keys it does not name), atomically, with mode 0600. */
export async function writeOperatorConfig(file: string, values: OperatorConfig): Promise<OperatorConfig> {
  const merged = { ...((await readOperatorConfig(file)) ?? {}), ...values };
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, HEADER + stringify(merged), { mode: 0o600 });
  await chmod(partial, 0o600);
  await rename(partial, file);
  return merged;
}
