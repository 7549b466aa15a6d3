import { formatInstant, formatMeasure, impactPhrase, projectedMore } from '@burnrate/notify';
import type { Anomaly, AnomalyState, Severity } from '@burnrate/schemas';
import type { DeliveryRecord } from '@burnrate/store';
import type { AnomalyDetail } from './anomaly-view.ts';
import { h } from './html.ts';

/** One thing that happened to an anomaly: a version the detector wrote, a message, or a person's decision. */
export interface TimelineEntry {
  at: string;
  kind: 'version' | 'delivery' | 'decision';
  /** What happened, in words: `Version 2 escalated to critical`, `Sent to slack:#payments`, `Acknowledged by bob`. */
  what: string;
  /** The money, the message id, the reason or the note; empty when there is nothing more to say. */
  detail: string;
  /** The severity of a version, so the page can colour it. */
  severity?: Severity;
}

// On the same instant a version comes before the message that carried it, and both before a
// decision a person could only take after reading it.
const ORDER: Record<TimelineEntry['kind'], number> = { version: 0, delivery: 1, decision: 2 };
const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** Versions, deliveries and decisions of one anomaly as one list, oldest first. Pure. */
export function anomalyTimeline(detail: Pick<AnomalyDetail, 'versions' | 'deliveries' | 'decisions'>): TimelineEntry[] {
  const entries = [
    ...detail.versions.map((v, i) => versionEntry(v, detail.versions[i - 1])),
    ...detail.deliveries.map(deliveryEntry),
    ...detail.decisions.map((d, i) => decisionEntry(d, detail.decisions[i - 1])),
  ];
  // Array.prototype.sort is stable: within a kind the store's order (oldest first) stays.
  return entries.sort((x, y) => Date.parse(x.at) - Date.parse(y.at) || ORDER[x.kind] - ORDER[y.kind]);
}

function versionEntry(v: Anomaly, previous: Anomaly | undefined): TimelineEntry {
  const money = [`observed ${formatMeasure(v.observed)}`, impactPhrase(v), projectedMore(v)].filter((x): x is string => x !== undefined);
  return {
    at: v.detected_at,
    kind: 'version',
    what: `Version ${v.version} ${change(v, previous)}`,
    detail: money.join('; '),
    severity: v.severity,
  };
}

/** What a version did to the episode, against the one before it. */
function change(v: Anomaly, previous: Anomaly | undefined): string {
  if (v.status === 'resolved' && previous?.status !== 'resolved') return `resolved (${v.severity}): the signal went back to normal`;
  if (previous === undefined) return `raised (${v.severity})`;
  const step = SEVERITY_RANK[v.severity] - SEVERITY_RANK[previous.severity];
  if (step > 0) return `escalated to ${v.severity}`;
  if (step < 0) return `eased to ${v.severity}`;
  return v.impact_usd > previous.impact_usd ? `grew (still ${v.severity})` : `updated (still ${v.severity})`;
}

function deliveryEntry(d: DeliveryRecord): TimelineEntry {
  const attempts = d.attempts > 1 ? ` after ${d.attempts} attempts` : '';
  const of = ` (version ${d.version})`;
  switch (d.status) {
    case 'sent':
      return { at: d.at, kind: 'delivery', what: `Message sent to ${d.receiver}${of}`, detail: d.detail ? `message ${d.detail}` : '' };
    case 'failed':
      return { at: d.at, kind: 'delivery', what: `Message to ${d.receiver} failed${attempts}${of}`, detail: d.detail };
    case 'skipped':
      return { at: d.at, kind: 'delivery', what: `Not sent to ${d.receiver}${of}`, detail: d.detail };
    case 'pending':
      return { at: d.at, kind: 'delivery', what: `Sending to ${d.receiver}${of}, attempt ${d.attempts}`, detail: '' };
  }
}

const DECISION_WORDS: Record<AnomalyState['action'], string> = {
  acknowledged: 'Acknowledged',
  snoozed: 'Snoozed',
  unacknowledged: 'Unacknowledged',
  resolved: 'Resolved',
};

function decisionEntry(d: AnomalyState, previous: AnomalyState | undefined): TimelineEntry {
  const how = `${d.snoozed_until ? ` until ${formatInstant(d.snoozed_until)}` : ''}${d.reason ? ` as ${d.reason}` : ''}`;
  return {
    at: d.at,
    kind: 'decision',
    what: `${d.action === 'unacknowledged' ? undoWords(d, previous) : DECISION_WORDS[d.action]}${how} by ${d.by} (${d.channel})`,
    detail: d.note ? `“${d.note}”` : '',
  };
}

/** `unacknowledged` takes back whatever came before it: say which (the console's buttons are named so too). */
function undoWords(d: AnomalyState, previous: AnomalyState | undefined): string {
  if (previous?.action === 'resolved') return 'Reopened';
  if (previous?.action === 'snoozed' && previous.snoozed_until !== undefined && Date.parse(previous.snoozed_until) > Date.parse(d.at))
    return 'Snooze ended early';
  return 'Unacknowledged';
}

/** The timeline as an ordered list, every value escaped. */
export function renderTimeline(entries: readonly TimelineEntry[]): string {
  if (entries.length === 0) return '<p class="muted">Nothing recorded yet.</p>';
  return `<ol class="timeline" id="timeline">${entries
    .map(
      (e) =>
        `<li data-kind="${e.kind}"${e.severity ? ` data-severity="${e.severity}"` : ''}><time datetime="${h(e.at)}">${h(formatInstant(e.at))}</time> <strong${e.severity ? ` class="${e.severity}"` : ''}>${h(e.what)}</strong>${e.detail ? `<br><span class="muted">${h(e.detail)}</span>` : ''}</li>`,
    )
    .join('')}</ol>`;
}
