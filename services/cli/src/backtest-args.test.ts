import { describe, expect, it } from 'vitest';
import { parseBacktestArgs, parseBound } from './backtest-args.ts';

describe('parseBacktestArgs', () => {
  it.each([
    {
      argv: ['--config', 'p.yaml'],
      want: { config: 'p.yaml', json: false, scores: false, skipInvalid: false, help: false },
    },
    {
      argv: ['--config=p.yaml', '--baseline', 'c.yaml', '--json', '--input', 'e.ndjson', '--skip-invalid'],
      want: { config: 'p.yaml', baseline: 'c.yaml', input: 'e.ndjson', json: true, skipInvalid: true },
    },
    {
      argv: ['--config', 'p.yaml', '--from', '2026-11-01', '--to', '2026-11-29T12:00:00+01:00'],
      want: { from: '2026-11-01T00:00:00.000Z', to: '2026-11-29T11:00:00.000Z' },
    },
    {
      argv: ['--config', 'p.yaml', '--from', '2026-11-08', '--warmup', '7d', '--data-dir', '/var/burnrate'],
      want: { from: '2026-11-08T00:00:00.000Z', warmupMs: 7 * 86_400_000, dataDir: '/var/burnrate' },
    },
    // A switch before a value flag must not swallow it.
    { argv: ['--json', '--config', 'p.yaml'], want: { config: 'p.yaml', json: true } },
    { argv: ['--config', 'p.yaml', '--scores', '--json'], want: { json: true, scores: true } },
    { argv: ['--help'], want: { help: true } },
  ])('accepts $argv', ({ argv, want }) => {
    expect(parseBacktestArgs(argv)).toMatchObject(want);
  });

  it.each([
    { argv: [], error: '--config <proposed.yaml> is required' },
    { argv: ['--config'], error: '--config needs a value' },
    { argv: ['--config', 'p.yaml', '--form', '2026-11-01'], error: 'unknown flag --form' },
    { argv: ['--config', 'p.yaml', 'extra'], error: 'unexpected argument "extra"' },
    { argv: ['--config', 'p.yaml', '--json=yes'], error: '--json is a switch and takes no value' },
    { argv: ['--config', 'a.yaml', '--config', 'b.yaml'], error: '--config is given twice' },
    { argv: ['--config', 'p.yaml', '--from', 'last week'], error: '--from "last week" is neither a date' },
    { argv: ['--config', 'p.yaml', '--to', '2026-02-30'], error: '--to "2026-02-30" is not a calendar date' },
    {
      argv: ['--config', 'p.yaml', '--from', '2026-11-29', '--to', '2026-11-01'],
      error: '--from 2026-11-29T00:00:00.000Z must be before --to',
    },
    { argv: ['--config', 'p.yaml', '--warmup', '7d'], error: '--warmup needs --from' },
    { argv: ['--config', 'p.yaml', '--from', '2026-11-01', '--warmup', 'a week'], error: '--warmup "a week" is not a duration' },
    { argv: ['--config', 'p.yaml', '--input', 'e.ndjson', '--data-dir', 'd'], error: '--input and --data-dir are two event sources' },
    { argv: ['--config', 'p.yaml', '--scores'], error: '--scores adds scores to the JSON report; pass --json too' },
  ])('rejects $argv', ({ argv, error }) => {
    expect(() => parseBacktestArgs(argv)).toThrow(error);
  });
});

describe('parseBound', () => {
  it.each([
    ['2026-11-01', '2026-11-01T00:00:00.000Z'],
    ['2026-11-01T09:30:00Z', '2026-11-01T09:30:00.000Z'],
    ['2026-11-01T09:30:00-05:00', '2026-11-01T14:30:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ])('%s → %s', (input, want) => {
    expect(parseBound('--from', input)).toBe(want);
  });

  it('names the flag when the value is not a time', () => {
    expect(() => parseBound('--to', '2026-11-01T09:30')).toThrow('--to "2026-11-01T09:30"');
    expect(() => parseBound('--to', '2025-02-29')).toThrow('not a calendar date');
  });
});
