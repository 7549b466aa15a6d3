import { describe, expect, it } from 'vitest';
import type { SpendResponse } from '@burnrate/api';
import { csv, spendCsv, spendTable } from './spend-command.ts';

const totals = { events: 2, requests: 2, input_tokens: 1200, output_tokens: 300, cache_read_tokens: 5000, cache_write_tokens: 0 };
const report: SpendResponse = {
  from: '2026-11-01T00:00:00.000Z',
  to: '2026-11-03T00:00:00.000Z',
  granularity: 'day',
  group_by: ['team'],
  filter: {},
  rows: [
    { period: '2026-11-01T00:00:00.000Z', team: 'payments', cost_usd: 1234.5, ...totals },
    { period: '2026-11-02T00:00:00.000Z', team: 'research, east', cost_usd: 0.07, ...totals },
  ],
  total: {
    cost_usd: 1234.57,
    events: 4,
    requests: 4,
    input_tokens: 2400,
    output_tokens: 600,
    cache_read_tokens: 10_000,
    cache_write_tokens: 0,
  },
};

describe('burnrate spend output', () => {
  it('prints money as everywhere (thousands separators, cents under $100), tokens grouped, the total last; CSV keeps the cents', () => {
    const lines = spendTable(report);
    expect(lines[2]).toMatch(/^PERIOD\s+TEAM\s+EVENTS\s+INPUT\s+OUTPUT\s+CACHE CREATE\s+CACHE READ\s+TOTAL TOKENS\s+COST$/);
    expect(lines[3]).toMatch(/^2026-11-01\s+payments\s+2\s+1,200\s+300\s+0\s+5,000\s+6,500\s+\$1,235$/);
    expect(lines[4]).toMatch(/\$0\.07$/);
    expect(lines[5]).toMatch(/^Total\s+4\s+2,400\s+600\s+0\s+10,000\s+13,000\s+\$1,235$/);
  });

  it('writes CSV with bare numbers and quotes a field holding a comma or a quote', () => {
    expect(spendCsv(report)).toEqual([
      'period,team,events,input_tokens,output_tokens,cache_write_tokens,cache_read_tokens,total_tokens,cost_usd',
      '2026-11-01T00:00:00.000Z,payments,2,1200,300,0,5000,6500,1234.5',
      '2026-11-02T00:00:00.000Z,"research, east",2,1200,300,0,5000,6500,0.07',
    ]);
    expect(csv(['a'], [['say "hi"']])).toEqual(['a', '"say ""hi"""']);
  });

  it('says so when there is no spend', () => {
    expect(spendTable({ ...report, rows: [] }).at(-1)).toBe('no spend in that period');
  });
});
