import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BurnrateError } from '@burnrate/core';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'part of the path is a file, not a directory',
  EEXIST: 'it exists and is not a directory',
  EIO: 'I/O error',
};

const codeOf = (err: unknown): unknown => (err as { code?: unknown }).code;

function reason(err: unknown): string {
  const code = codeOf(err);
  if (typeof code === 'string') return `${REASONS[code] ?? (err as Error).message} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * `mkdir -p`, one level at a time: node's recursive mkdir reports ENOENT for a parent it could
 * not create on a read-only file system, which hides the reason.
 */
async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    try {
      if (!(await stat(at)).isDirectory()) throw Object.assign(new Error(`${at} is not a directory`), { code: 'EEXIST' });
      break;
    } catch (err) {
      if (codeOf(err) !== 'ENOENT' || dirname(at) === at) throw err;
      missing.unshift(at);
    }
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (err) {
      // Created meanwhile by someone else: fine.
      if (codeOf(err) !== 'EEXIST') throw err;
    }
  }
}

/**
 * Makes sure the data directory exists and takes a write, before chdb and the bus log open it:
 * they would fail later with a message that names neither the directory nor the reason.
 */
export async function prepareDataDir(dir: string): Promise<void> {
  try {
    await makeDirectory(dir);
  } catch (err) {
    throw new BurnrateError('CONFIG_INVALID', `data directory ${dir} cannot be created: ${reason(err)}`, { cause: err });
  }
  // A real write and fdatasync: root passes permission checks, so only writing shows a
  // read-only mount or a full disk.
  const probe = join(dir, `.write-check-${process.pid}`);
  try {
    const file = await open(probe, 'w');
    try {
      await file.writeFile('burnrate data directory write check\n');
      await file.datasync();
    } finally {
      await file.close();
    }
  } catch (err) {
    await rm(probe, { force: true }).catch(() => undefined);
    throw new BurnrateError('CONFIG_INVALID', `data directory ${dir} is not writable: ${reason(err)}`, { cause: err });
  }
  await rm(probe, { force: true });
}
