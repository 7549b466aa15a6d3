import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { ConfigError } from './load.ts';
import { fixedConfig, loadConfigSource } from './source.ts';
import { parseConfig } from './load.ts';

const log = createLogger({ level: 'silent' });
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function file(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-config-'));
  dirs.push(dir);
  const path = join(dir, 'burnrate.yaml');
  await writeFile(path, text);
  return path;
}

describe('config sources', () => {
  it('refuses to start on an invalid file, naming the problem', async () => {
    await expect(loadConfigSource(await file('org: Not An Id\n'), { log })).rejects.toBeInstanceOf(ConfigError);
  });

  it('swaps in a valid file on reload, and says whether anything changed', async () => {
    const path = await file('org: acme\nteams: [{ id: payments }]\n');
    const source = await loadConfigSource(path, { log });
    const first = source.current();
    expect(await source.reload()).toEqual({ ok: true, changed: false });
    // Unchanged: the same object, so what components derived from it stays cached.
    expect(source.current()).toBe(first);
    await writeFile(path, 'org: acme\nteams: [{ id: payments }, { id: research }]\n');
    expect(await source.reload()).toEqual({ ok: true, changed: true });
    expect(source.current().teams.map((t) => t.id)).toEqual(['payments', 'research']);
  });

  it('keeps the config in use when the new file is invalid or gone', async () => {
    const path = await file('org: acme\n');
    const source = await loadConfigSource(path, { log });
    await writeFile(path, 'org: acme\nteams: [{ id: Bad Team }]\n');
    const refused = await source.reload();
    expect(refused.ok).toBe(false);
    expect(refused.ok ? '' : refused.error.message).toMatch(/teams\[0\]\.id/);
    expect(source.current().org).toBe('acme');
    await rm(path);
    expect((await source.reload()).ok).toBe(false);
    expect(source.current().org).toBe('acme');
  });

  it('has a fixed twin for what never reloads', () => {
    const config = parseConfig('org: acme');
    expect(fixedConfig(config).current()).toBe(config);
  });
});
