import { formatUsd } from '@burnrate/detection';
import type { Anomaly } from '@burnrate/schemas';
import type { SpendFilter, SpendTopRow } from '@burnrate/store';
import { h } from '../html.ts';
import { anomalyChart, type HourSpend } from './chart.ts';
import type { ConsoleStore } from './deps.ts';

const HOUR_MS = 3_600_000;
const BASELINE_DAYS = 7;

const CAP_LABELS: Partial<Record<Anomaly['kind'], string>> = {
  session_cost: 'cap crossed',
  budget_forecast: 'monthly budget',
  lost_events: 'cost in Claude Code metrics',
};

/**
 * The anomaly page's evidence from the store: a chart of the subject's spend per hour around the
 * window against its usual band, the cap and the projection, and the sessions, developers and
 * models whose spend made up the window.
 */
export async function anomalyEvidence(store: Pick<ConsoleStore, 'spend' | 'spendTop'>, a: Anomaly): Promise<string> {
  const start = Date.parse(a.window.start);
  const end = Math.max(Date.parse(a.window.end), start + 1);
  const span = end - start;
  const from = floorHour(start - Math.max(6 * HOUR_MS, span / 2));
  const lastSeen = ceilHour(Math.max(end, Date.parse(a.detected_at)));
  const to = lastSeen + Math.max(2 * HOUR_MS, ceilHour((lastSeen - from) / 4));
  const filter: SpendFilter = { team: a.subject.team };
  if (a.subject.developer !== undefined) filter.developer = a.subject.developer;
  if (a.subject.model !== undefined) filter.model = a.subject.model;
  const windowRange = { from: new Date(floorHour(start)).toISOString(), to: new Date(ceilHour(end) + HOUR_MS).toISOString() };

  const [hourly, prior, sessions, developers, models] = await Promise.all([
    store.spend({ from: iso(from), to: iso(to), granularity: 'hour', group_by: [], filter }),
    store.spend({ from: iso(from - BASELINE_DAYS * 24 * HOUR_MS), to: iso(from), granularity: 'hour', group_by: [], filter }),
    store.spendTop({ ...windowRange, by: 'session', limit: 10, filter }),
    store.spendTop({ ...windowRange, by: 'developer', limit: 10, filter }),
    store.spend({ ...windowRange, granularity: 'month', group_by: ['model'], filter }),
  ]);
  const hours: HourSpend[] = hourly.map((r) => ({ hour: r.period, usd: r.cost_usd }));
  const usual = prior.map((r) => r.cost_usd).filter((x) => x > 0);
  let baseline: { low: number; high: number; label: string } | undefined;
  if (usual.length >= 3) {
    baseline = {
      low: quantile(usual, 0.1),
      high: quantile(usual, 0.9),
      label: `usual hourly spend (10th–90th percentile of the ${BASELINE_DAYS} days before)`,
    };
  } else if (a.expected.unit === 'usd/h') {
    baseline = { low: a.expected.value, high: a.expected.value, label: 'usual spend for this hour, as the detector expected it' };
  }
  const cap =
    a.expected.unit === 'usd' && a.expected.value > 0 ? { usd: a.expected.value, label: CAP_LABELS[a.kind] ?? 'expected' } : undefined;
  const inWindow = hours.filter((x) => Date.parse(x.hour) + HOUR_MS > start && Date.parse(x.hour) <= end).reduce((s, x) => s + x.usd, 0);
  const projection =
    a.status === 'open' && a.projected_usd > 0 && inWindow > 0
      ? { at: to, usd: inWindow + a.projected_usd, label: `${formatUsd(a.projected_usd)} more if nothing changes` }
      : undefined;
  const evidence = a.evidence
    .filter((p) => p.unit === 'usd' || p.unit === 'usd/h')
    .map((p) => ({ at: Date.parse(p.at), usd: p.value, label: `${p.label} (${p.unit === 'usd/h' ? 'per hour' : 'dollars'})` }));
  const who = [a.subject.developer, a.subject.model].filter((x): x is string => x !== undefined).join(', ');
  const chart = anomalyChart({
    title: 'Spend per hour',
    subject: who ? `${who} in ${a.subject.team}` : `team ${a.subject.team}`,
    from,
    to,
    window: { start, end },
    hours,
    baseline,
    cap,
    projection,
    evidence,
  });
  const modelRows = models.sort((x, y) => y.cost_usd - x.cost_usd);
  return [
    '<h2>Spend around it</h2>',
    `<p class="muted">${h(`Spend per UTC hour of ${who ? `${who} in team ${a.subject.team}` : `team ${a.subject.team}`}${a.subject.session !== undefined ? ' (all of the developer’s sessions; the session’s own share is below)' : ''}, from the store.`)}</p>`,
    chart,
    '<h2>Behind it</h2>',
    `<p class="muted">${h(`Spend from ${windowRange.from.slice(0, 13)}h to ${windowRange.to.slice(0, 13)}h UTC, the hours of the anomaly's window.`)}</p>`,
    '<h3>Sessions</h3>',
    topTable(sessions, true, a.subject.session),
    '<h3>Developers</h3>',
    topTable(developers, false, a.subject.developer),
    '<h3>Models</h3>',
    modelRows.length === 0
      ? '<p class="muted">No stored spend in the window.</p>'
      : `<table class="list" id="behind-models"><tr><th>Model</th><th class="num">Spend</th><th class="num">Events</th></tr>${modelRows
          .map(
            (r) =>
              `<tr><td>${h(r.model ?? '')}</td><td class="num">${h(formatUsd(r.cost_usd))}</td><td class="num">${h(String(r.events))}</td></tr>`,
          )
          .join('')}</table>`,
  ].join('');
}

function topTable(rows: readonly SpendTopRow[], sessions: boolean, highlight: string | undefined): string {
  if (rows.length === 0) return '<p class="muted">No stored spend in the window.</p>';
  return `<table class="list" id="behind-${sessions ? 'sessions' : 'developers'}"><tr><th>${sessions ? 'Session' : 'Developer'}</th>${sessions ? '<th>Developer</th>' : ''}<th>Models</th><th>Tools</th><th class="num">Spend</th></tr>${rows
    .map(
      (r) =>
        `<tr${r.key === highlight ? ' style="font-weight:600"' : ''}><td>${h(r.key)}</td>${sessions ? `<td>${h(r.developer)}</td>` : ''}<td>${h(r.models.join(', '))}</td><td>${h(r.tools.join(', '))}</td><td class="num">${h(formatUsd(r.cost_usd))}</td></tr>`,
    )
    .join('')}</table>`;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo);
}

const floorHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
const ceilHour = (ms: number): number => Math.ceil(ms / HOUR_MS) * HOUR_MS;
const iso = (ms: number): string => new Date(ms).toISOString();
