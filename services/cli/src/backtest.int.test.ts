import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import type { UsageEvent } from '@burnrate/schemas';
import { createChdbStore, type Store } from '@burnrate/store';
import { tempDir, type TempDir, usageEvent } from '@burnrate/testing';
import type { BacktestReport } from './backtest-report.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const RUN_TIMEOUT_MS = 30_000;

const CURRENT = `
org: acme
timezone: Europe/Berlin
teams:
  - id: payments
    timezone: Europe/Berlin
    members: [alice@acme.com, bob@acme.com]
detectors:
  session_cost: { warning_usd: 25, critical_usd: 100 }
`;
// The change under review: session caps raised to $50 / $200.
const PROPOSED = CURRENT.replace('warning_usd: 25, critical_usd: 100', 'warning_usd: 50, critical_usd: 200');

const MINUTE = 60_000;

/** `turns` turns of `costEach` dollars, five minutes apart, on a working day in Berlin. */
function session(id: string, developer: string, start: string, turns: number, costEach: number): UsageEvent[] {
  return Array.from({ length: turns }, (_, i) => {
    const at = new Date(Date.parse(start) + i * 5 * MINUTE).toISOString();
    return usageEvent({
      event_id: `${id}-${String(i).padStart(3, '0')}`,
      session_id: id,
      developer,
      developer_email: developer,
      occurred_at: at,
      ingested_at: at,
      cost_usd: costEach,
    });
  });
}

const EVENTS: UsageEvent[] = [
  // $120: warning at $25 and critical at $100 today; only a warning (at $50) with the proposal.
  ...session('loop-1', 'alice@acme.com', '2026-11-24T09:00:00.000Z', 12, 10),
  // $30: a warning today, nothing with the proposal.
  ...session('short-2', 'bob@acme.com', '2026-11-24T13:00:00.000Z', 3, 10),
  // $300: critical with both, reached later with the proposal.
  ...session('big-3', 'bob@acme.com', '2026-11-26T09:00:00.000Z', 30, 10),
  // Outside --to.
  ...session('december-4', 'alice@acme.com', '2026-12-01T09:00:00.000Z', 5, 10),
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `burnrate backtest …` as its own process, the way a user does. */
function burnrate(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return command('backtest', args, env);
}

function command(name: string, args: string[], env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN, name, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`burnrate ${name} ${args.join(' ')} did not finish within ${RUN_TIMEOUT_MS} ms:\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const sessionCost = (report: BacktestReport, role: 'proposed' | 'baseline'): { session: string | undefined; severity: string }[] =>
  (report.runs.find((r) => r.role === role)?.anomalies ?? [])
    .filter((a) => a.kind === 'session_cost')
    .map((a) => ({ session: a.subject.session, severity: a.severity }));

describe('burnrate backtest', () => {
  let dir: TempDir;
  const path = (name: string): string => join(dir.path, name);
  const range = ['--from', '2026-11-01', '--to', '2026-11-29'];

  beforeAll(async () => {
    dir = await tempDir();
    await writeFile(path('current.yaml'), CURRENT);
    await writeFile(path('proposed.yaml'), PROPOSED);
    // Shuffled: the command sorts by event time itself.
    const shuffled = [...EVENTS].sort((a, b) =>
      a.event_id.split('').reverse().join('') < b.event_id.split('').reverse().join('') ? -1 : 1,
    );
    await writeFile(path('events.ndjson'), `${shuffled.map((e) => JSON.stringify(e)).join('\n')}\n`);
    const { source: _source, ...broken } = { ...EVENTS[0]!, event_id: 'broken', cost_usd: 'a lot' };
    await writeFile(path('with-bad-line.ndjson'), `${[...EVENTS.slice(0, 5), broken].map((e) => JSON.stringify(e)).join('\n')}\n`);
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  describe('from an NDJSON file', () => {
    const args = (): string[] => [
      '--config',
      path('proposed.yaml'),
      '--baseline',
      path('current.yaml'),
      '--input',
      path('events.ndjson'),
      ...range,
    ];

    it('shows fewer session_cost alerts with the raised caps and names the gone and changed ones', async () => {
      const run = await burnrate(args());
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const out = run.stdout;
      expect(out).toMatch(/^PROPOSED .*proposed\.yaml: 2 anomalies \(1 critical, 1 warning, 0 info\)$/m);
      expect(out).toMatch(/^BASELINE .*current\.yaml: 3 anomalies \(2 critical, 1 warning, 0 info\)$/m);
      expect(out).toMatch(/^DIFF .*: 0 new, 1 gone, 2 changed, 0 unchanged$/m);
      const section = (title: string): string => out.slice(out.indexOf(title), out.indexOf('\n\n', out.indexOf(title)));
      expect(section('  GONE:')).toMatch(/2026-11-24 13:10Z +warning +session_cost +bob@acme\.com session short-2 +\$5(?![\d.,])/);
      const changed = section('  CHANGED:');
      expect(changed).toMatch(/session_cost +alice@acme\.com session loop-1 +critical → warning +2026-11-24 09:10Z → 2026-11-24 09:20Z/);
      expect(changed).toMatch(/session_cost +bob@acme\.com session big-3 +critical +2026-11-26 09:10Z → 2026-11-26 09:20Z/);
      expect(out).toContain('events.ndjson (50 lines; left out: 0 invalid, 0 of other orgs, 5 outside the range)');

      const again = await burnrate(args());
      expect(again.stdout).toBe(out);
    });

    it('--json is one document with the same content, byte-identical across runs', async () => {
      const first = await burnrate([...args(), '--json']);
      expect(first.code).toBe(0);
      const report = JSON.parse(first.stdout) as BacktestReport;
      expect(sessionCost(report, 'baseline')).toEqual([
        { session: 'loop-1', severity: 'critical' },
        { session: 'short-2', severity: 'warning' },
        { session: 'big-3', severity: 'critical' },
      ]);
      expect(sessionCost(report, 'proposed')).toEqual([
        { session: 'loop-1', severity: 'warning' },
        { session: 'big-3', severity: 'critical' },
      ]);
      expect(report.diff?.gone.map((a) => a.subject.session)).toEqual(['short-2']);
      expect(report.diff?.changed.map((c) => [c.baseline.subject.session, c.baseline.severity, c.proposed.severity, c.changed])).toEqual([
        ['loop-1', 'critical', 'warning', ['severity', 'first_detected_at']],
        ['big-3', 'critical', 'critical', ['first_detected_at']],
      ]);
      expect(report.runs[0]?.groups).toEqual([
        {
          team: 'payments',
          week: '2026-W48',
          anomalies: 2,
          by_severity: { critical: 1, warning: 1, info: 0 },
          by_kind: { session_cost: 2 },
        },
      ]);
      const second = await burnrate([...args(), '--json']);
      expect(second.stdout).toBe(first.stdout);
    });

    it('fails on an invalid line unless --skip-invalid, which counts it', async () => {
      const base = ['--config', path('proposed.yaml'), '--input', path('with-bad-line.ndjson')];
      const strict = await burnrate(base);
      expect(strict.code).toBe(1);
      // A line that is neither a stored event nor a record ingest takes is named by what ingest would say.
      expect(strict.stderr).toContain('1 line is not a valid UsageEvent or usage record:\n');
      expect(strict.stderr).toContain('line 6: cost_usd: expected a JSON number, got the string "a lot"; send numbers without quotes\n');
      expect(strict.stdout).toBe('');

      const lenient = await burnrate([...base, '--skip-invalid', '--json']);
      expect(lenient.code).toBe(0);
      const report = JSON.parse(lenient.stdout) as BacktestReport;
      expect(report.source).toMatchObject({ kind: 'ndjson', lines: 6, invalid_skipped: 1 });
      expect(report.runs[0]?.replay.events).toBe(5);
    });

    it('reports a bad config with its path and problem, exit 1', async () => {
      await writeFile(path('broken.yaml'), `${CURRENT}\nroutes:\n  group_wait: soon\n`);
      const run = await burnrate(['--config', path('broken.yaml'), '--input', path('events.ndjson')]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`--config: ${path('broken.yaml')} is not a valid Burnrate config:`);
      expect(run.stderr).toMatch(/routes\.group_wait \(line \d+\): /);
    });
  });

  // chdb binds a data directory to one process: this file runs in its own process (integration
  // project), opens the store here, and the command is a second process.
  describe('from the embedded store', () => {
    let store: Store | undefined;
    const dataDir = (): string => path('data');

    beforeAll(async () => {
      await mkdir(join(dataDir(), 'chdb'), { recursive: true });
      store = await createChdbStore({ dataDir: join(dataDir(), 'chdb'), log: createLogger({ level: 'silent' }) });
      await store.migrate();
      await store.insertUsageEvents(EVENTS);
    });
    afterAll(async () => {
      await store?.close();
    });

    it('fails at once with a clear message while another process holds the store', async () => {
      const run = await burnrate(['--config', path('proposed.yaml'), '--data-dir', dataDir()]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('another process holds it, most likely a running `burnrate start`');
      expect(run.stderr).toContain('--input events.ndjson');
      const exported = await command('export', ['events', '--data-dir', dataDir()], {});
      expect([exported.code, exported.stdout]).toEqual([1, '']);
      expect(exported.stderr).toContain('another process holds it');
      expect(run.ms).toBeLessThan(15_000);
    });

    it('replays the stored events to the same report as the file', async () => {
      await store?.close();
      store = undefined;
      const fromStore = await burnrate(['--config', path('proposed.yaml'), '--baseline', path('current.yaml'), ...range, '--json'], {
        BURNRATE_DATA_DIR: dataDir(),
      });
      expect(fromStore.stderr).toBe('');
      expect(fromStore.code).toBe(0);
      const fromFile = await burnrate([
        '--config',
        path('proposed.yaml'),
        '--baseline',
        path('current.yaml'),
        ...range,
        '--json',
        '--input',
        path('events.ndjson'),
      ]);
      const store_ = JSON.parse(fromStore.stdout) as BacktestReport;
      const file = JSON.parse(fromFile.stdout) as BacktestReport;
      expect(store_.source).toEqual({ kind: 'chdb', data_dir: join(dataDir(), 'chdb') });
      expect(store_.runs[0]?.replay.events).toBe(45);
      expect({ ...store_, source: null }).toEqual({ ...file, source: null });
    });

    it('exports the stored events as NDJSON that a backtest replays to the same report', async () => {
      const out = path('exported.ndjson');
      const exported = await command('export', ['events', ...range, '--out', out], { BURNRATE_DATA_DIR: dataDir() });
      expect([exported.code, exported.stdout]).toEqual([0, '']);
      expect(exported.stderr).toBe(`exported 45 events from ${join(dataDir(), 'chdb')} to ${out}\n`);
      const lines = (await readFile(out, 'utf8')).trimEnd().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as UsageEvent).occurred_at)).toEqual(
        EVENTS.filter((e) => e.occurred_at < '2026-11-29')
          .map((e) => e.occurred_at)
          .sort(),
      );
      const args = ['--config', path('proposed.yaml'), '--baseline', path('current.yaml'), ...range, '--json'];
      const fromExport = JSON.parse((await burnrate([...args, '--input', out])).stdout) as BacktestReport;
      const fromFile = JSON.parse((await burnrate([...args, '--input', path('events.ndjson')])).stdout) as BacktestReport;
      expect({ ...fromExport, source: null }).toEqual({ ...fromFile, source: null });

      const toStdout = await command('export', ['events', '--from', '2026-12-01'], { BURNRATE_DATA_DIR: dataDir() });
      expect(toStdout.stdout.trimEnd().split('\n')).toHaveLength(5);
      const bad = await command('export', ['events', '--from', 'soon'], { BURNRATE_DATA_DIR: dataDir() });
      expect([bad.code, bad.stderr.trim()]).toEqual([
        2,
        'burnrate export: --from "soon" is neither a date (2026-11-01) nor an ISO instant (2026-11-01T09:00:00Z)',
      ]);
    });
  });
});
