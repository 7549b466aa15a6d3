import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, loadConfigSource, type ReloadResult } from '@burnrate/core';
import { tempDir, type TempDir, waitUntil } from '@burnrate/testing';
import { type ConfigWatch, createConfigWatch } from './config-watch.ts';

const log = createLogger({ level: 'silent' });
const yaml = (warning: number): string => `org: acme\ndetectors:\n  session_cost: { warning_usd: ${warning} }\n`;

describe('createConfigWatch', () => {
  let dir: TempDir | undefined;
  let watch: ConfigWatch | undefined;
  afterEach(async () => {
    await watch?.stop();
    await dir?.cleanup();
    watch = undefined;
    dir = undefined;
  });

  /** A source over `path` with a watch that records each reload's result. */
  async function watched(path: string): Promise<{ warning: () => number; results: ReloadResult[] }> {
    const source = await loadConfigSource(path, { log });
    const results: ReloadResult[] = [];
    watch = createConfigWatch({ source, log, debounceMs: 50, reload: async () => void results.push(await source.reload('file')) });
    await watch.start();
    return { warning: () => source.current().detectors.session_cost.warning_usd, results };
  }

  it('reloads once after an editor writes a temp file and renames it over the config', async () => {
    dir = await tempDir();
    const path = join(dir.path, 'burnrate.yaml');
    await writeFile(path, yaml(25));
    const { warning, results } = await watched(path);
    await writeFile(join(dir.path, '.burnrate.yaml.swp'), yaml(40));
    await rename(join(dir.path, '.burnrate.yaml.swp'), path);
    await waitUntil(() => warning() === 40, { timeoutMs: 5_000, message: 'the renamed file applied' });
    // The burst of events (create, rename) was one reload.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ ok: true, changed: true });
  });

  it('follows a ConfigMap-style swap of the ..data symlink', async () => {
    dir = await tempDir();
    // What kubelet lays out: burnrate.yaml -> ..data/burnrate.yaml, ..data -> ..<timestamp>.
    await mkdir(join(dir.path, '..v1'));
    await writeFile(join(dir.path, '..v1', 'burnrate.yaml'), yaml(25));
    await symlink('..v1', join(dir.path, '..data'));
    await symlink(join('..data', 'burnrate.yaml'), join(dir.path, 'burnrate.yaml'));
    const { warning } = await watched(join(dir.path, 'burnrate.yaml'));

    await mkdir(join(dir.path, '..v2'));
    await writeFile(join(dir.path, '..v2', 'burnrate.yaml'), yaml(60));
    await symlink('..v2', join(dir.path, '..data_tmp'));
    await rename(join(dir.path, '..data_tmp'), join(dir.path, '..data'));
    await waitUntil(() => warning() === 60, { timeoutMs: 5_000, message: 'the swapped ConfigMap applied' });
  });

  it('does not reload a file rewritten with the same content, nor for other files in the directory', async () => {
    dir = await tempDir();
    const path = join(dir.path, 'burnrate.yaml');
    await writeFile(path, yaml(25));
    const { results } = await watched(path);
    await writeFile(join(dir.path, 'notes.txt'), 'unrelated');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(results).toEqual([]);
    await writeFile(path, yaml(25));
    await waitUntil(() => results.length === 1, { timeoutMs: 5_000, message: 'the rewrite was looked at' });
    expect(results).toEqual([{ ok: true, changed: false, changes: [] }]);
  });
});
