import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir extends AsyncDisposable {
  path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  cleanup(): Promise<void>;
}

/** A fresh directory under the OS temp dir; use with `await using dir = await tempDir()` or call cleanup(). */
export async function tempDir(prefix = 'burnrate-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const cleanup = () => rm(path, { recursive: true, force: true });
  return { path, cleanup, [Symbol.asyncDispose]: cleanup };
}
