import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatMeasure,
  formatUsd,
  groupSeverity,
  groupTitle,
  headline,
  oneLine,
  relativeToExpected,
  sparkline,
  truncate,
} from './format.ts';

describe('formatUsd', () => {
  it.each([
    [104.2, '$104.20'],
    [0, '$0.00'],
    [1234.5, '$1,234.50'],
    [0.004, '<$0.01'],
    [0.005, '$0.01'],
    [1_250_000, '$1,250,000.00'],
    [999_999_999.99, '$999,999,999.99'],
    [1e9, '$1 billion'],
    [1.234e9, '$1.23 billion'],
    [5.6e12, '$5.6 trillion'],
    [999.5e12, '$999.5 trillion'],
    [1e15, 'over $1,000 trillion'],
    [1e300, 'over $1,000 trillion'],
    [Number.MAX_VALUE, 'over $1,000 trillion'],
    [Infinity, 'over $1,000 trillion'],
    [-2e9, '-$2 billion'],
    [-12.5, '-$12.50'],
    [Number.NaN, 'an unknown amount'],
  ])('%s → %s', (value, expected) => {
    expect(formatUsd(value)).toBe(expected);
  });
});

describe('formatMeasure', () => {
  it.each([
    [{ value: 31.2, unit: 'usd' }, '$31.20'],
    [{ value: 182000, unit: 'tokens' }, '182,000 tokens'],
    [{ value: 0.645, unit: 'share' }, '64.5%'],
    [{ value: 42.25, unit: 'percent' }, '42.3%'],
    [{ value: 5.25, unit: 'hours' }, '5.3 h'],
    [{ value: 3, unit: 'requests' }, '3 requests'],
    [{ value: 2.5e9, unit: 'tokens' }, '2.5 billion tokens'],
    [{ value: 1e20, unit: 'tokens' }, 'over 1,000 trillion tokens'],
    [{ value: 1e300, unit: 'percent' }, 'over 1,000 trillion%'],
    [{ value: 4e9, unit: 'hours' }, '4 billion h'],
  ])('%o → %s', (m, expected) => {
    expect(formatMeasure(m)).toBe(expected);
  });
});

describe('relativeToExpected', () => {
  it('gives a ratio for amounts', () => {
    expect(relativeToExpected({ value: 104.2, unit: 'usd' }, { value: 25, unit: 'usd' })).toBe('4.2× expected');
    expect(relativeToExpected({ value: 800, unit: 'usd' }, { value: 25, unit: 'usd' })).toBe('32× expected');
  });
  it('gives a difference in points for shares', () => {
    expect(relativeToExpected({ value: 0.62, unit: 'share' }, { value: 0.4, unit: 'share' })).toBe('+22 pts vs expected');
    expect(relativeToExpected({ value: 10, unit: 'percent' }, { value: 40, unit: 'percent' })).toBe('−30 pts vs expected');
  });
  it('writes a huge ratio in words', () => {
    expect(relativeToExpected({ value: 1e300, unit: 'usd' }, { value: 1, unit: 'usd' })).toBe('over 1,000 trillion× expected');
    expect(relativeToExpected({ value: 5e9, unit: 'usd' }, { value: 1, unit: 'usd' })).toBe('5 billion× expected');
  });
  it('says nothing when units differ or nothing was expected', () => {
    expect(relativeToExpected({ value: 1, unit: 'usd' }, { value: 1, unit: 'tokens' })).toBeUndefined();
    expect(relativeToExpected({ value: 7, unit: 'usd' }, { value: 0, unit: 'usd' })).toBe('none expected');
  });
});

describe('sparkline', () => {
  it('scales between min and max', () => {
    expect(sparkline([0, 1, 2, 7])).toBe('▁▂▃█');
    expect(sparkline([5, 5, 5])).toBe('▄▄▄');
    expect(sparkline([])).toBe('');
  });
});

describe('headline', () => {
  it('names severity, kind, amount, developer and team', () => {
    const a = anomaly({ severity: 'critical', observed: { value: 104.2, unit: 'usd' } });
    expect(headline(a)).toBe('[critical] Session cost $104.20 for alice@acme.com (payments)');
  });
  it('falls back to the model, then the team', () => {
    expect(headline(anomaly({ kind: 'spend_spike', subject: { developer: undefined, session: undefined } }))).toBe(
      '[warning] Spend spike $31.20 for claude-opus-4-5 (payments)',
    );
    expect(headline(anomaly({ kind: 'budget_forecast', subject: { developer: undefined, session: undefined, model: undefined } }))).toBe(
      '[warning] Budget forecast $31.20 for team payments',
    );
  });
  it('tags a resolved episode as resolved', () => {
    expect(headline(anomaly({ status: 'resolved' }))).toMatch(/^\[resolved\] Session cost/);
  });
});

describe('truncate and oneLine', () => {
  it('cuts with an ellipsis, never inside a surrogate pair', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abcdef', 6)).toBe('abcdef');
    const cut = truncate(`ab${'😀'.repeat(5)}`, 4);
    expect(cut).toBe('ab…');
    expect(cut.isWellFormed()).toBe(true);
  });
  it('turns line breaks and control characters into spaces', () => {
    expect(oneLine('a\r\nb\tc\u0085d\u2028e')).toBe('a b c d e');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 min'],
    [29.6 * 60_000, '30 min'],
    [89 * 60_000, '89 min'],
    [90 * 60_000, '1.5 h'],
    [4 * 3_600_000, '4 h'],
  ])('%d ms → %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe('groupTitle and groupSeverity', () => {
  it('counts the members and names their kind and team when they share one, else leads with the first', () => {
    const one = anomaly({ id: 'a' });
    expect(groupTitle([one, anomaly({ id: 'b' })])).toBe('2 session cost anomalies for team payments');
    expect(groupTitle([one, anomaly({ id: 'b', kind: 'spend_spike', subject: { team: 'search' } })])).toBe(
      'Session cost and 1 more anomaly for teams payments, search',
    );
  });

  it('is the highest severity still open, or the highest of all once every member is resolved', () => {
    const warning = anomaly({ id: 'w' });
    const resolvedCritical = anomaly({ id: 'c', severity: 'critical', status: 'resolved' });
    expect(groupSeverity([warning, resolvedCritical])).toBe('warning');
    expect(groupSeverity([{ ...warning, status: 'resolved' }, resolvedCritical])).toBe('critical');
  });
});
