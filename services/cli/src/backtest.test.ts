import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { tempDir, type TempDir, usageEvent } from '@burnrate/testing';
import { backtest } from './backtest.ts';
import type { BacktestReport } from './backtest-report.ts';

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
    expect(r.err).toContain(
      'line 2: occurred_at: is required; model: is required; developer_email: a record needs developer_email or developer',
    );
  });

  it('explains a data directory without an embedded store', async () => {
    const r = await run(['--config', path('ok.yaml'), '--data-dir', path('nowhere')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no embedded store in ${path('nowhere')}`);
    expect(r.err).toContain('--input');
  });
});

describe('burnrate backtest --scores', () => {
  let dir: TempDir;
  const log = createLogger({ level: 'silent' });
  const path = (name: string): string => join(dir.path, name);
  const config = (warning: number): string =>
    `org: acme\nteams: [{ id: payments, members: [alice@acme.com] }]\ndetectors:\n  session_cost: { warning_usd: ${warning}, critical_usd: 100 }\n`;
  /** Three $`each` turns of one session, ten minutes apart within one hour, on a working day. */
  const session = (id: string, each: number) =>
    [0, 10, 20].map((m) => {
      const at = new Date(Date.parse('2026-11-25T10:00:00.000Z') + m * 60_000).toISOString();
      return usageEvent({ event_id: `${id}-${m}`, session_id: id, occurred_at: at, ingested_at: at, cost_usd: each });
    });

  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(path('proposed.yaml'), config(25));
    await writeFile(path('current.yaml'), config(20));
    const events = [...session('near-miss', 8), ...session('over', 10)];
    await writeFile(path('events.ndjson'), `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  async function report(extra: string[]): Promise<BacktestReport> {
    const out: string[] = [];
    const argv = [
      '--config',
      path('proposed.yaml'),
      '--baseline',
      path('current.yaml'),
      '--input',
      path('events.ndjson'),
      '--json',
      ...extra,
    ];
    const code = await backtest(argv, { log }, { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code).toBe(0);
    return JSON.parse(out.join('\n')) as BacktestReport;
  }

  const sessionScores = (r: BacktestReport, role: string) =>
    (r.runs.find((run) => run.role === role)?.scores ?? [])
      .filter((row) => row.kind === 'session_cost')
      .map((row) => ({ session: row.subject.session, score: row.score, threshold: row.threshold, severity: row.severity }));

  it('shows how close each session came to its cap, one row per session and hour, near misses included', async () => {
    const r = await report(['--scores']);
    const [proposed] = r.runs;
    expect(proposed?.anomalies.map((a) => [a.kind, a.subject.session])).toEqual([['session_cost', 'over']]);
    // $24 of a $25 cap raised nothing, and the scores say by how little.
    expect(sessionScores(r, 'proposed')).toEqual([
      { session: 'near-miss', score: 24, threshold: 25, severity: null },
      { session: 'over', score: 30, threshold: 25, severity: 'warning' },
    ]);
    expect(sessionScores(r, 'baseline')).toEqual([
      { session: 'near-miss', score: 24, threshold: 20, severity: 'warning' },
      { session: 'over', score: 30, threshold: 20, severity: 'warning' },
    ]);
    expect(proposed?.scores?.every((row) => row.at >= '2026-11-25T10:00:00.000Z' && row.unit !== undefined)).toBe(true);
  });

  it('leaves the scores out unless asked', async () => {
    const r = await report([]);
    expect(r.runs.map((run) => run.scores)).toEqual([undefined, undefined]);
  });
});
