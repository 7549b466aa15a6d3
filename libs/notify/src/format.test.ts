import { formatUsd as detectionFormatUsd } from '@burnrate/detection';
import { anomaly } from '@burnrate/testing/builders';
import { describe, expect, it } from 'vitest';
import {
  evidenceChart,
  formatDuration,
  formatMeasure,
  formatUsd,
  impactPhrase,
  projectedMore,
  teamMonthLine,
  teamMonthLines,
  groupSeverity,
  groupTitle,
  headline,
  oneLine,
  relativeToExpected,
  sparkline,
  truncate,
} from './format.ts';

describe('formatUsd', () => {
  it('is the one formatter of @burnrate/detection, so a summary and its message write a figure alike', () => {
    expect(formatUsd).toBe(detectionFormatUsd);
  });
});

describe('money words', () => {
  it('says what impact_usd counts for each kind, while it goes on and once it is over', () => {
    const a = anomaly({ impact_usd: 84 });
    expect(impactPhrase(a)).toBe('$84 over the warning cap so far');
    expect(impactPhrase({ ...a, status: 'resolved' })).toBe('$84 over the warning cap');
    expect(impactPhrase({ ...a, kind: 'spend_spike' })).toBe('$84 above the usual spend so far');
    expect(impactPhrase({ ...a, kind: 'model_mix_drift' })).toBe('$84 more a week at this model mix');
    expect(impactPhrase({ ...a, kind: 'cache_efficiency_drop' })).toBe('$84 of cache discount lost so far');
  });

  it('says the projection is more spend, by when the team is likely to look, and nothing when none is expected', () => {
    const a = anomaly({ projected_usd: 97 });
    expect(projectedMore(a, 'by Mon 09:00 Europe/Berlin')).toBe('$97 more by Mon 09:00 Europe/Berlin');
    expect(projectedMore(a)).toBe('$97 more before the team is likely to look');
    expect(projectedMore({ ...a, projected_usd: 0 })).toBeUndefined();
    expect(projectedMore({ ...a, status: 'resolved' })).toBeUndefined();
  });

  it('puts the team against its month: budget, share and where it is heading', () => {
    expect(teamMonthLine({ team: 'payments', spent_usd: 4210.4, budget_usd: 6000, on_course_usd: 5900 })).toBe(
      'Team payments: $4,210 of $6,000 this month (70%), on course for $5,900',
    );
    expect(teamMonthLine({ team: 'research', spent_usd: 12.5 })).toBe('Team research: $12.50 this month, no budget set');
    expect(teamMonthLines(['payments', 'search'], [{ team: 'search', spent_usd: 3 }])).toEqual([
      'Team search: $3 this month, no budget set',
    ]);
    expect(teamMonthLines(['payments'], undefined)).toEqual([]);
  });

  it('gives the evidence chart its scale: low and high with units, and the time it spans', () => {
    const point = (at: string, value: number, unit = 'usd/h') => ({ at, label: 'spend', value, unit });
    const chart = evidenceChart([
      point('2026-11-27T13:00:00Z', 0.4),
      point('2026-11-27T14:00:00Z', 3, 'tokens'),
      point('2026-11-27T16:00:00Z', 12.4),
      point('2026-11-27T19:00:00Z', 31.2),
    ]);
    // The tokens point is left out: bars of two units have no axis.
    expect(chart).toEqual({ bars: '▁▄█', axis: 'low $0.40/h, high $31.20/h · 2026-11-27 13:00Z – 19:00Z (6 h)' });
    expect(evidenceChart([point('2026-11-27T13:00:00Z', 1)])).toBeUndefined();
  });
});

describe('formatMeasure', () => {
  it.each([
    [{ value: 31.2, unit: 'usd' }, '$31.20'],
    [{ value: 12.4, unit: 'usd/h' }, '$12.40/h'],
    [{ value: 1250, unit: 'usd/call' }, '$1,250/call'],
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
    expect(headline(a)).toBe('[critical] Session cost $104 for alice@acme.com (payments)');
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
