import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '@burnrate/testing';
import { prepareDataDir } from './data-dir.ts';

const dirs: TempDir[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.cleanup();
});

async function temp(): Promise<string> {
  const d = await tempDir();
  dirs.push(d);
  return d.path;
}

describe('prepareDataDir', () => {
  it('creates a missing directory and leaves nothing behind', async () => {
    const dir = join(await temp(), 'a', 'b');
    await prepareDataDir(dir);
    expect(await readdir(dir)).toEqual([]);
  });

  it('names the directory and the reason when part of the path is a file', async () => {
    const root = await temp();
    await writeFile(join(root, 'file'), 'x');
    await expect(prepareDataDir(join(root, 'file', 'data'))).rejects.toThrow(
      `data directory ${join(root, 'file', 'data')} cannot be created: part of the path is a file, not a directory (ENOTDIR)`,
    );
  });

  it('says so when the data directory is a file', async () => {
    const file = join(await temp(), 'data');
    await writeFile(file, 'x');
    await expect(prepareDataDir(file)).rejects.toThrow(
      `data directory ${file} cannot be created: it exists and is not a directory (EEXIST)`,
    );
  });

  // Root passes permission checks, so this one needs an ordinary user (the read-only and full
  // disk cases are in disk-full.int.test.ts, on real mounts).
  it.skipIf(process.getuid?.() === 0)('says permission denied for a directory it may not write', async () => {
    const root = await temp();
    const locked = join(root, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    try {
      await expect(prepareDataDir(join(locked, 'data'))).rejects.toThrow(/cannot be created: permission denied \(EACCES\)/);
      await expect(prepareDataDir(locked)).rejects.toThrow(/locked is not writable: permission denied \(EACCES\)/);
    } finally {
      await chmod(locked, 0o700);
    }
  });
});
