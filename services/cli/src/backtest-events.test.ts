import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UsageEvent } from '@burnrate/schemas';
import { tempDir, type TempDir, usageEvent } from '@burnrate/testing';
import { parseConfig } from '@burnrate/core';
import { reportsAfterTheirPeriod } from '@burnrate/detector';
import { parseLine, postedRecordReader, readNdjsonEvents, sortForReplay } from './backtest-events.ts';

const at = (iso: string, id: string, extra: Partial<UsageEvent> = {}): UsageEvent =>
  usageEvent({ event_id: id, occurred_at: iso, ingested_at: iso, ...extra });

describe('parseLine', () => {
  it.each([
    ['{"event_id":', /^not JSON \(/],
    ['[]', /^\(line\): /],
  ])('%s is not an event', (line, problem) => {
    const result = parseLine(line);
    expect(Array.isArray(result) && result[0]).toMatch(problem);
  });

  it('names every bad field of a line', () => {
    const { cost_usd: _cost, ...rest } = usageEvent();
    const result = parseLine(JSON.stringify({ ...rest, occurred_at: 'yesterday', extra: 1 }));
    expect(result).toEqual([
      'occurred_at: expected an ISO-8601 timestamp such as 2026-11-28T14:05:00Z',
      'cost_usd: is required (number)',
      '(line): unknown key "extra"',
    ]);
  });

  it('shows the first four problems of a line that is something else entirely', () => {
    const result = parseLine('{"hello":"world"}');
    expect(result).toHaveLength(5);
    expect((result as string[])[4]).toMatch(/^and \d+ more$/);
  });

  it('returns the parsed event, instants normalised', () => {
    const e = usageEvent();
    expect(parseLine(JSON.stringify({ ...e, occurred_at: '2026-11-27T15:00:00+01:00' }))).toEqual({
      ...e,
      occurred_at: '2026-11-27T14:00:00.000Z',
    });
  });
});

describe('readNdjsonEvents', () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  const write = async (lines: string[]): Promise<string> => {
    const path = join(dir.path, 'events.ndjson');
    await writeFile(path, `${lines.join('\n')}\n`);
    return path;
  };

  it('keeps the window of one org, sorted by occurred_at then event_id, and counts what it left out', async () => {
    const path = await write([
      JSON.stringify(at('2026-11-02T10:00:00.000Z', 'b')),
      '',
      JSON.stringify(at('2026-11-02T10:00:00.000Z', 'a')),
      JSON.stringify(at('2026-11-01T09:00:00.000Z', 'c')),
      JSON.stringify(at('2026-10-31T23:59:59.999Z', 'before')),
      JSON.stringify(at('2026-11-29T00:00:00.000Z', 'at-to')),
      JSON.stringify(at('2026-11-02T10:00:00.000Z', 'other', { org: 'globex' })),
    ]);
    const { events, stats } = await readNdjsonEvents(
      path,
      { org: 'acme', from: '2026-11-01T00:00:00.000Z', to: '2026-11-29T00:00:00.000Z' },
      { skipInvalid: false },
    );
    expect(events.map((e) => e.event_id)).toEqual(['c', 'a', 'b']);
    expect(stats).toEqual({ lines: 6, invalid_skipped: 0, other_org: 1, outside_range: 2 });
  });

  it('fails on an invalid line, naming its number and field', async () => {
    const path = await write([
      JSON.stringify(at('2026-11-02T10:00:00.000Z', 'a')),
      '',
      JSON.stringify({ ...at('2026-11-02T10:00:00.000Z', 'b'), cost_usd: -1 }),
    ]);
    await expect(readNdjsonEvents(path, { org: 'acme' }, { skipInvalid: false })).rejects.toThrow(
      /events\.ndjson: 1 line is not a valid UsageEvent:\n {2}line 3: cost_usd: .*\nFix them, or pass --skip-invalid/,
    );
  });

  it('with skipInvalid replays the valid lines and counts the rest', async () => {
    const path = await write(['nope', JSON.stringify(at('2026-11-02T10:00:00.000Z', 'a')), '{}']);
    const { events, stats, invalid } = await readNdjsonEvents(path, { org: 'acme' }, { skipInvalid: true });
    expect(events.map((e) => e.event_id)).toEqual(['a']);
    expect(stats.invalid_skipped).toBe(2);
    expect(invalid.map((i) => i.line)).toEqual([1, 3]);
  });

  it('with a posted-record reader, replays what was posted to /v1/events: attributed and priced under the config, however old', async () => {
    const config = parseConfig('org: acme\nteams:\n  - id: payments\n    members: [alice@acme.com]\n');
    const posted = postedRecordReader(config, () => new Date('2026-12-07T00:00:00Z'));
    const path = await write([
      JSON.stringify(at('2026-11-02T10:00:00.000Z', 'stored')),
      JSON.stringify({
        occurred_at: '2026-03-02T09:30:00Z',
        developer_email: 'alice@acme.com',
        model: 'claude-sonnet-4-5',
        input_tokens: 1_000_000,
        output_tokens: 0,
      }),
      JSON.stringify({ occurred_at: '2026-03-02T09:31:00Z', developer_email: 'bob@acme.com', model: 'claude-sonnet-4-5', inputTokens: 5 }),
    ]);
    await expect(readNdjsonEvents(path, { org: 'acme' }, { skipInvalid: false, posted })).rejects.toThrow(
      /1 line is not a valid UsageEvent or usage record:\n {2}line 3: inputTokens: .*input_tokens/,
    );
    const { events } = await readNdjsonEvents(path, { org: 'acme' }, { skipInvalid: true, posted });
    expect(events.map((e) => [e.occurred_at, e.developer, e.team, e.cost_usd, e.cost_source])).toEqual([
      ['2026-03-02T09:30:00.000Z', 'alice@acme.com', 'payments', 3, 'computed'],
      ['2026-11-02T10:00:00.000Z', expect.any(String), expect.any(String), expect.any(Number), expect.any(String)],
    ]);
    // Without the reader, a posted record is not a UsageEvent.
    await expect(readNdjsonEvents(path, { org: 'acme' }, { skipInvalid: false })).rejects.toThrow(/2 lines are not a valid UsageEvent:/);
  });

  it('names a missing file', async () => {
    await expect(readNdjsonEvents(join(dir.path, 'missing.ndjson'), { org: 'acme' }, { skipInvalid: false })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('cannot read --input') as unknown,
    });
  });
});

describe('sortForReplay', () => {
  it('is stable for repeated ids, so dedupe keeps the first copy in the file', () => {
    const first = at('2026-11-02T10:00:00.000Z', 'dup', { cost_usd: 1 });
    const second = at('2026-11-02T10:00:00.000Z', 'dup', { cost_usd: 2 });
    expect(sortForReplay([first, at('2026-11-01T00:00:00.000Z', 'z'), second]).map((e) => e.cost_usd)).toEqual([0.42, 1, 2]);
  });
});

describe('reportsAfterTheirPeriod', () => {
  const bucket = (id: string, start: string, hours: number): UsageEvent =>
    at(start, id, {
      source: 'anthropic_cost_report',
      granularity: hours === 24 ? '1d' : '1h',
      period_start: start,
      period_end: new Date(Date.parse(start) + hours * 3_600_000).toISOString(),
    });
  const ids = async (events: UsageEvent[]): Promise<string[]> => {
    const out: string[] = [];
    for await (const e of reportsAfterTheirPeriod(events)) out.push(e.event_id);
    return out;
  };

  it('replays each report bucket once the stream passes its period end, as it arrives live', async () => {
    const stream = sortForReplay([
      bucket('day-1', '2026-11-02T00:00:00.000Z', 24),
      bucket('hour-10', '2026-11-02T10:00:00.000Z', 1),
      at('2026-11-02T09:00:00.000Z', 'live-9'),
      at('2026-11-02T10:30:00.000Z', 'live-10:30'),
      at('2026-11-02T11:00:00.000Z', 'live-11'),
      at('2026-11-03T00:00:00.000Z', 'live-next-day'),
      bucket('day-2', '2026-11-03T00:00:00.000Z', 24),
    ]);
    expect(await ids(stream)).toEqual(['live-9', 'live-10:30', 'hour-10', 'live-11', 'day-1', 'live-next-day', 'day-2']);
  });

  it('orders held buckets by period end and passes request-level events through untouched', async () => {
    const stream = [
      bucket('day', '2026-11-02T00:00:00.000Z', 24),
      bucket('hour', '2026-11-02T05:00:00.000Z', 1),
      at('2026-11-02T12:00:00.000Z', 'live'),
    ];
    expect(await ids(stream)).toEqual(['hour', 'live', 'day']);
    expect(await ids([at('2026-11-02T12:00:00.000Z', 'b'), at('2026-11-02T11:00:00.000Z', 'a')])).toEqual(['b', 'a']);
  });
});
