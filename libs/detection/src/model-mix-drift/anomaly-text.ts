import type { Anomaly, EvidencePoint } from '@burnrate/schemas';
import { splitKey } from '../buckets/keyed.ts';
import { dateOfDay, formatLocalHour, localHourOf } from '../buckets/local-hour.ts';
import { PLANNED, plannedAdvice, type PhaseAt } from '../buckets/planned.ts';
import { hoursUntilAcknowledgement } from '../calendar.ts';
import { episodeFields, iso, markEvidence, sortedEvidence } from '../episode.ts';
import { formatUsd, roundMoney } from '../format.ts';
import type { FastVerdict } from './fast-team-path.ts';
import {
  firstDay,
  newestDay,
  RING_DAYS,
  ringSlotOf,
  slotPhase,
  sumCost,
  sumPremium,
  type MixEpisode,
  type MixKey,
  type Scope,
} from './mix-key.ts';
import { DAY_MS, KIND, type ModelMixDriftConfig } from './settings.ts';
import type { Verdict } from './weekly-signal.ts';

/** The anomaly version of a key's episode as it stands: its numbers, evidence, summary and advice. */
export function toAnomaly(
  key: string,
  k: MixKey,
  v: Verdict | FastVerdict,
  scope: Scope,
  cfg: ModelMixDriftConfig,
  watermark: number,
  phase: PhaseAt,
): Anomaly {
  const ep = k.ep as MixEpisode;
  const [org, who] = splitKey(key);
  const cal = cfg.calendarFor(k.team);
  const resolved = ep.e.status === 'resolved';
  const subjectName = scope === 'developer' ? who : `team ${k.team}`;
  const perHour = ep.impact / (7 * 24);

  const evidence: EvidencePoint[] = [...markEvidence(ep.e), ...dailyShares(k.v)];
  evidence.push({
    at: iso(watermark),
    label: `usual premium share of spend (${v.pValue < 0.0001 ? 'p < 0.0001' : `p = ${v.pValue.toFixed(4)}`})`,
    value: roundMoney(100 * v.baseShare),
    unit: 'percent',
  });
  let summary: string;
  if ('fast' in v) {
    evidence.push(
      { at: iso(watermark), label: 'developers active in the window', value: v.active, unit: 'developers' },
      { at: iso(watermark), label: 'of them mostly on premium models', value: v.moved, unit: 'developers' },
      { at: iso(watermark), label: 'spend above their usual price per token', value: roundMoney(v.excess), unit: 'usd' },
    );
    const since = `${formatLocalHour(localHourOf(v.since, cal.timeZone))} (${cal.timeZone})`;
    summary = resolved
      ? `The premium-model share of ${subjectName}'s spend is back to ${pct(v.share)}, near the usual ${pct(v.baseShare)} for the developers active.`
      : `${v.moved} of ${v.active} developers of ${subjectName} active since ${since} moved to premium models: ${pct(v.share)} of their spend, where ${pct(v.baseShare)} is usual for them. At this mix that is about ${formatUsd(ep.impact)} more a week (${formatUsd(v.excess)} extra so far).`;
  } else {
    summary = resolved
      ? `The premium-model share of ${subjectName}'s spend is back to ${pct(v.share)}, near its usual ${pct(v.baseShare)}.`
      : `Premium models took ${pct(v.share)} of ${subjectName}'s spend over the last 7 days, up from ${pct(v.baseShare)} before; at this mix that is about ${formatUsd(ep.impact)} more a week.`;
  }
  const advice =
    (resolved
      ? 'No action needed now.'
      : "Check the tool's default model: a vendor update may have switched it to a premium model. Pin the cheaper model where the premium one is not needed.") +
    plannedAdvice(phase);
  const start = 'fast' in v ? v.since : dayStartMs(k.v);

  return {
    ...episodeFields(ep.e),
    kind: KIND,
    subject: { org, team: k.team, ...(scope === 'developer' ? { developer: who } : {}) },
    window: { start: iso(Math.min(start, ep.e.start)), end: iso(watermark) },
    observed: { value: roundMoney(100 * v.share), unit: 'percent' },
    expected: { value: roundMoney(100 * v.baseShare), unit: 'percent' },
    impact_usd: roundMoney(Math.max(0, ep.impact)),
    projected_usd: resolved ? 0 : roundMoney(perHour * hoursUntilAcknowledgement(cal, watermark)),
    evidence: sortedEvidence(evidence),
    summary,
    advice,
    detected_at: iso(watermark),
  };
}

const pct = (x: number): string => `${Math.round(100 * x)}%`;

/** UTC midnight of the oldest local day in the ring (close enough for a window start). */
function dayStartMs(v: readonly number[]): number {
  return Math.max(firstDay(v), newestDay(v) - RING_DAYS + 1) * DAY_MS;
}

/** Premium share of spend by local day over the ring, oldest first. */
function dailyShares(v: readonly number[]): EvidencePoint[] {
  const out: EvidencePoint[] = [];
  const newest = newestDay(v);
  for (let d = newest - RING_DAYS + 1; d <= newest; d++) {
    if (d < firstDay(v)) continue;
    const slot = ringSlotOf(d);
    const cost = sumCost(v, slot);
    if (cost <= 0) continue;
    out.push({
      at: `${dateOfDay(d)}T00:00:00.000Z`,
      label: slotPhase(v, slot) === PLANNED ? 'premium share of spend that day (planned change)' : 'premium share of spend that day',
      value: roundMoney((100 * sumPremium(v, slot)) / cost),
      unit: 'percent',
    });
  }
  return out;
}
