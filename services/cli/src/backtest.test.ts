import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { tempDir, type TempDir, usageEvent } from '@burnrate/testing';
import { backtest } from './backtest.ts';

// The command's refusals, in process: none of them reaches the replay or a store.
describe('burnrate backtest refuses what it cannot run', () => {
  let dir: TempDir;
  const log = createLogger({ level: 'silent' });
  const path = (name: string): string => join(dir.path, name);

  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(path('ok.yaml'), 'org: acme\nteams: [{ id: payments, members: [alice@acme.com] }]\n');
    await writeFile(path('globex.yaml'), 'org: globex\n');
    await writeFile(path('bad.yaml'), 'org: acme\ndetectors:\n  session_cost: { warning_usd: lots }\n');
    await writeFile(path('bad.ndjson'), `${JSON.stringify(usageEvent())}\n{"event_id": "x"}\n`);
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await backtest(argv, { log }, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it.each([
    { name: 'no --config', argv: [], code: 2, err: '--config <proposed.yaml> is required' },
    { name: 'a misspelt flag', argv: ['--config', 'x.yaml', '--baselin', 'y.yaml'], code: 2, err: 'unknown flag --baselin' },
    { name: 'a bad --to', argv: ['--config', 'x.yaml', '--to', 'soon'], code: 2, err: '--to "soon" is neither a date' },
  ])('$name: exit $code naming the flag', async ({ argv, code, err }) => {
    const r = await run(argv);
    expect(r.code).toBe(code);
    expect(r.err).toContain(err);
    expect(r.err).toContain('usage: burnrate backtest');
  });

  it('--help prints the usage', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('--warmup DURATION');
  });

  it('reports a bad config like config check: the flag, the file, the path and the problem', async () => {
    const r = await run(['--config', path('ok.yaml'), '--baseline', path('bad.yaml'), '--input', path('bad.ndjson')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--baseline: ${path('bad.yaml')} is not a valid Burnrate config:`);
    expect(r.err).toMatch(/detectors\.session_cost\.warning_usd \(line 3\): /);
    expect(r.err).toContain('1 problem found.');
    expect(r.out).toBe('');
  });

  it('names a config file that does not exist', async () => {
    const r = await run(['--config', path('missing.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--config: cannot read config file ${path('missing.yaml')}`);
  });

  it('refuses to compare configs of two orgs', async () => {
    const r = await run(['--config', path('ok.yaml'), '--baseline', path('globex.yaml')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('is for org globex but --config');
  });

  it('fails on an invalid input line, naming its number and field', async () => {
    const r = await run(['--config', path('ok.yaml'), '--input', path('bad.ndjson')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('line 2: source: is required (string)');
  });

  it('explains a data directory without an embedded store', async () => {
    const r = await run(['--config', path('ok.yaml'), '--data-dir', path('nowhere')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no embedded store in ${path('nowhere')}`);
    expect(r.err).toContain('--input');
  });
});
