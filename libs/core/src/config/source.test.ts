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
    expect(await source.reload()).toEqual({ ok: true, changed: false, changes: [] });
    // Unchanged: the same object, so what components derived from it stays cached.
    expect(source.current()).toBe(first);
    await writeFile(path, 'org: acme\nteams: [{ id: payments }, { id: research }]\n');
    expect(await source.reload()).toEqual({
      ok: true,
      changed: true,
      changes: [{ path: 'teams[1]', from: '(unset)', to: expect.objectContaining({ id: 'research' }) }],
    });
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

  it('logs which settings changed, old and new, with secrets redacted', async () => {
    const lines: Record<string, unknown>[] = [];
    const recording = createLogger({
      level: 'info',
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const webhook = (url: string): string =>
      `org: acme\nteams:\n  - id: payments\n    receivers: [{ channel: webhook, name: ops, url: "${url}" }]\n`;
    const path = await file(`${webhook('https://hooks.acme.internal/T0KEN-1')}detectors: { session_cost: { warning_usd: 25 } }\n`);
    const source = await loadConfigSource(path, { log: recording });
    await writeFile(path, `${webhook('https://hooks.acme.internal/T0KEN-2')}detectors: { session_cost: { warning_usd: 5 } }\n`);
    const result = await source.reload();
    expect(result).toEqual({
      ok: true,
      changed: true,
      changes: [
        { path: 'teams[0].receivers[0].url', from: '[redacted]', to: '[redacted]' },
        { path: 'detectors.session_cost.warning_usd', from: 25, to: 5 },
      ],
    });
    const reloaded = lines.find((l) => l.msg === 'config reloaded');
    expect(reloaded?.changes).toEqual(['teams[0].receivers[0].url: [redacted] → [redacted]', 'detectors.session_cost.warning_usd: 25 → 5']);
    expect(JSON.stringify(lines)).not.toContain('T0KEN');
  });

  it('shows the hash in use, and the last refused reload until the file is fixed or back', async () => {
    const times = [Date.parse('2026-11-27T10:00:00Z'), Date.parse('2026-11-27T10:05:00Z'), Date.parse('2026-11-27T10:09:00Z')];
    const now = (): Date => new Date(times.length > 1 ? (times.shift() as number) : (times[0] as number));
    const path = await file('org: acme\n');
    const source = await loadConfigSource(path, { log, now });
    const loaded = source.status();
    expect(loaded).toEqual({ path, hash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown, loaded_at: '2026-11-27T10:00:00.000Z' });

    await writeFile(path, 'org: acme\nroutes: { rules: [{ match: { team: ghost }, notify: [finops] }] }\n');
    expect((await source.reload('file')).ok).toBe(false);
    const refused = source.status();
    expect(refused).toMatchObject({ hash: loaded.hash, loaded_at: loaded.loaded_at, last_error: { at: '2026-11-27T10:05:00.000Z' } });
    expect(refused.last_error?.problems.map((p) => p.path)).toEqual(['routes.rules[0].match.team', 'routes.rules[0].notify[0]']);
    expect(refused.last_error?.message).toContain('2 problems found.');

    // Put back as it was: nothing to reload, and nothing wrong any more.
    await writeFile(path, 'org: acme\n');
    expect(await source.reload('file')).toEqual({ ok: true, changed: false, changes: [] });
    expect(source.status()).toEqual(loaded);
  });

  it('has a fixed twin for what never reloads', () => {
    const config = parseConfig('org: acme');
    expect(fixedConfig(config).current()).toBe(config);
  });
});
