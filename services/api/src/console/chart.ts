import { formatUsd } from '@burnrate/detection';
import { h } from '../html.ts';

// Hand-written SVG rather than a chart library: the pages carry no script (their CSP allows
// none), a server-rendered SVG is readable by a test and a screen reader as it is, and the two
// charts the console needs are a few dozen lines each.

const WIDTH = 900;
const HEIGHT = 280;
const PAD = { left: 72, right: 16, top: 14, bottom: 40 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;
const HOUR_MS = 3_600_000;

export const SERIES_COLOURS = [
  '#2563eb',
  '#f59e0b',
  '#10b981',
  '#ef4444',
  '#8b5cf6',
  '#06b6d4',
  '#ec4899',
  '#84cc16',
  '#64748b',
  '#a16207',
];

export interface HourSpend {
  /** Start of the UTC hour, ISO. */
  hour: string;
  usd: number;
}

export interface AnomalyChartInput {
  title: string;
  /** What the bars are the spend of (`alice@acme.com in payments`). */
  subject: string;
  /** The plotted time range, ms. */
  from: number;
  to: number;
  /** The anomaly's window, ms: shaded, and where the cumulative line starts. */
  window: { start: number; end: number };
  /** Spend per UTC hour of the subject; hours without spend may be absent. */
  hours: readonly HourSpend[];
  /** The usual hourly spend, as a band. */
  baseline?: { low: number; high: number; label: string } | undefined;
  /** A cap or budget the cumulative spend is measured against. */
  cap?: { usd: number; label: string } | undefined;
  /** Where the cumulative spend goes if nothing changes: from the last point to `usd` at `at`. */
  projection?: { at: number; usd: number; label: string } | undefined;
  /** The anomaly's evidence points in dollars (usd or usd/h). */
  evidence: ReadonlyArray<{ at: number; usd: number; label: string }>;
}

/**
 * Spend per hour (bars) against the usual band, the spend since the window began (a line with
 * a point per hour) against the cap, the projection (dashed) and the evidence points, on one
 * dollar axis. Every value is escaped; every mark has a <title> a reader can hover.
 */
export function anomalyChart(input: AnomalyChartInput): string {
  const hours = [...input.hours].filter((x) => Date.parse(x.hour) >= input.from && Date.parse(x.hour) < input.to);
  hours.sort((a, b) => a.hour.localeCompare(b.hour));
  // Cumulative spend at the end of each hour of the window.
  const cumulative: Array<{ at: number; usd: number }> = [];
  let running = 0;
  for (const x of hours) {
    const start = Date.parse(x.hour);
    if (start + HOUR_MS <= input.window.start || start > input.window.end) continue;
    running += x.usd;
    cumulative.push({ at: Math.min(start + HOUR_MS, Math.max(input.window.end, start)), usd: running });
  }
  const top = niceMax(
    Math.max(
      1,
      ...hours.map((x) => x.usd),
      ...cumulative.map((c) => c.usd),
      input.baseline?.high ?? 0,
      input.cap?.usd ?? 0,
      ...input.evidence.map((e) => e.usd),
    ) * 1.15,
  );
  const x = (ms: number): number => PAD.left + ((ms - input.from) / (input.to - input.from)) * PLOT_W;
  const y = (usd: number): number => PAD.top + PLOT_H - (usd / top) * PLOT_H;
  const barW = Math.max(2, (HOUR_MS / (input.to - input.from)) * PLOT_W - 2);
  const parts: string[] = [];
  parts.push(yAxis(top, y), timeAxis(input.from, input.to, x));
  parts.push(
    `<rect class="window" x="${f(x(input.window.start))}" y="${PAD.top}" width="${f(Math.max(1, x(input.window.end) - x(input.window.start)))}" height="${PLOT_H}" fill="#fef3c7" opacity="0.5"><title>the anomaly's window</title></rect>`,
  );
  if (input.baseline) {
    const b = input.baseline;
    parts.push(
      `<rect class="baseline-band" x="${PAD.left}" y="${f(y(b.high))}" width="${PLOT_W}" height="${f(Math.max(1, y(b.low) - y(b.high)))}" fill="#94a3b8" opacity="0.3"><title>${h(`${b.label}: ${formatUsd(b.low)} to ${formatUsd(b.high)}`)}</title></rect>`,
    );
  }
  for (const hs of hours) {
    const at = Date.parse(hs.hour);
    parts.push(
      `<rect class="bar" data-hour="${h(hs.hour)}" data-usd="${h(String(hs.usd))}" x="${f(x(at) + 1)}" y="${f(y(hs.usd))}" width="${f(barW)}" height="${f(Math.max(0, y(0) - y(hs.usd)))}" fill="#60a5fa"><title>${h(`${hs.hour.slice(0, 13)}:00Z: ${formatUsd(hs.usd)} in the hour`)}</title></rect>`,
    );
  }
  if (input.cap) {
    parts.push(
      `<line class="cap-line" x1="${PAD.left}" x2="${PAD.left + PLOT_W}" y1="${f(y(input.cap.usd))}" y2="${f(y(input.cap.usd))}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="6 3"><title>${h(`${input.cap.label}: ${formatUsd(input.cap.usd)}`)}</title></line>`,
      `<text x="${PAD.left + PLOT_W - 4}" y="${f(y(input.cap.usd) - 4)}" text-anchor="end" fill="#dc2626">${h(`${input.cap.label} ${formatUsd(input.cap.usd)}`)}</text>`,
    );
  }
  if (cumulative.length > 0) {
    const first = { at: Math.max(input.window.start, input.from), usd: 0 };
    const line = [first, ...cumulative].map((p, i) => `${i === 0 ? 'M' : 'L'}${f(x(p.at))},${f(y(p.usd))}`).join(' ');
    parts.push(
      `<path class="cumulative" d="${line}" fill="none" stroke="#111827" stroke-width="2"><title>spend since the window began</title></path>`,
    );
    for (const p of cumulative) {
      parts.push(
        `<circle class="point" data-usd="${h(String(p.usd))}" cx="${f(x(p.at))}" cy="${f(y(p.usd))}" r="3" fill="#111827"><title>${h(`${new Date(p.at).toISOString().slice(0, 16)}Z: ${formatUsd(p.usd)} since the window began`)}</title></circle>`,
      );
    }
    if (input.projection) {
      const last = cumulative[cumulative.length - 1] as { at: number; usd: number };
      // A projection far above what happened would flatten everything else: it is drawn up to the
      // top of the axis, with its end value written where it leaves the chart.
      const p = input.projection;
      const endAt = p.usd <= top ? p.at : last.at + ((p.at - last.at) * (top - last.usd)) / Math.max(1e-9, p.usd - last.usd);
      const endUsd = Math.min(p.usd, top);
      parts.push(
        `<path class="projection" d="M${f(x(last.at))},${f(y(last.usd))} L${f(x(endAt))},${f(y(endUsd))}" fill="none" stroke="#111827" stroke-width="2" stroke-dasharray="5 4"><title>${h(`${p.label}: ${formatUsd(p.usd)}`)}</title></path>`,
        `<text x="${f(Math.min(x(endAt) + 4, PAD.left + PLOT_W - 4))}" y="${f(y(endUsd) + 12)}" text-anchor="${x(endAt) > PAD.left + PLOT_W * 0.7 ? 'end' : 'start'}">${h(`${p.usd > top ? '↑ ' : ''}${formatUsd(p.usd)} if nothing changes`)}</text>`,
      );
    }
  }
  for (const e of input.evidence) {
    if (e.at < input.from || e.at > input.to) continue;
    parts.push(
      `<circle class="evidence" cx="${f(x(e.at))}" cy="${f(y(e.usd))}" r="4.5" fill="none" stroke="#d97706" stroke-width="2"><title>${h(`${e.label}: ${formatUsd(e.usd)} at ${new Date(e.at).toISOString().slice(0, 16)}Z`)}</title></circle>`,
    );
  }
  const legend = [
    legendItem('#60a5fa', 'spend per hour'),
    ...(cumulative.length > 0 ? [legendItem('#111827', 'spend since the window began')] : []),
    ...(input.projection ? [legendItem('#111827', `projection (dashed): ${input.projection.label}`, true)] : []),
    ...(input.baseline ? [legendItem('#cbd5e1', `${input.baseline.label}`)] : []),
    ...(input.cap ? [legendItem('#dc2626', `${input.cap.label} ${formatUsd(input.cap.usd)}`, true)] : []),
    ...(input.evidence.length > 0 ? [legendItem('#d97706', 'evidence the detector recorded')] : []),
    legendItem('#fef3c7', "the anomaly's window"),
  ].join('');
  return [
    `<figure class="chart" style="margin:0">`,
    `<svg id="anomaly-chart" role="img" aria-labelledby="anomaly-chart-title" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" style="max-width:${WIDTH}px" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="anomaly-chart-title">${h(`${input.title}: ${input.subject}`)}</title>`,
    ...parts,
    '</svg>',
    `<figcaption class="legend">${legend}</figcaption>`,
    hours.length === 0 ? '<p class="muted">No stored spend for this subject in the plotted range.</p>' : '',
    '</figure>',
  ].join('');
}

export interface StackedSeries {
  name: string;
  /** One value per period, in the order of `periods`. */
  values: readonly number[];
}

/** Spend per period stacked by group: one bar per period, one colour per group, a legend. */
export function stackedChart(periods: readonly string[], series: readonly StackedSeries[], label: string): string {
  const totals = periods.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const top = niceMax(Math.max(1, ...totals));
  const y = (usd: number): number => PAD.top + PLOT_H - (usd / top) * PLOT_H;
  const slot = PLOT_W / Math.max(1, periods.length);
  const barW = Math.min(48, Math.max(2, slot * 0.8));
  const parts: string[] = [yAxis(top, y)];
  const every = Math.max(1, Math.ceil(periods.length / 12));
  periods.forEach((period, i) => {
    const x0 = PAD.left + i * slot + (slot - barW) / 2;
    let base = 0;
    series.forEach((s, j) => {
      const v = s.values[i] ?? 0;
      if (v <= 0) return;
      parts.push(
        `<rect class="segment" data-period="${h(period)}" data-series="${h(s.name)}" data-usd="${h(String(v))}" x="${f(x0)}" y="${f(y(base + v))}" width="${f(barW)}" height="${f(Math.max(0.5, y(base) - y(base + v)))}" fill="${SERIES_COLOURS[j % SERIES_COLOURS.length]}"><title>${h(`${period} · ${s.name}: ${formatUsd(v)}`)}</title></rect>`,
      );
      base += v;
    });
    if (i % every === 0) {
      parts.push(
        `<text x="${f(PAD.left + i * slot + slot / 2)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle">${h(shortPeriod(period))}</text>`,
      );
    }
  });
  const legend = series.map((s, j) => legendItem(SERIES_COLOURS[j % SERIES_COLOURS.length] as string, s.name)).join('');
  return [
    `<figure class="chart" style="margin:0">`,
    `<svg id="spend-chart" role="img" aria-labelledby="spend-chart-title" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" style="max-width:${WIDTH}px" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="spend-chart-title">${h(label)}</title>`,
    ...parts,
    '</svg>',
    `<figcaption class="legend">${legend}</figcaption>`,
    periods.length === 0 ? '<p class="muted">No spend in this range.</p>' : '',
    '</figure>',
  ].join('');
}

function yAxis(top: number, y: (usd: number) => number): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => t * top);
  return ticks
    .map(
      (v) =>
        `<line x1="${PAD.left}" x2="${PAD.left + PLOT_W}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#e5e7eb"/><text x="${PAD.left - 6}" y="${f(y(v) + 4)}" text-anchor="end">${h(formatUsd(v))}</text>`,
    )
    .join('');
}

function timeAxis(from: number, to: number, x: (ms: number) => number): string {
  const span = to - from;
  const step = [1, 2, 3, 6, 12, 24, 48, 168].map((n) => n * HOUR_MS).find((s) => span / s <= 10) ?? 336 * HOUR_MS;
  const parts: string[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    const iso = new Date(t).toISOString();
    const text = step >= 24 * HOUR_MS || iso.slice(11, 13) === '00' ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
    parts.push(
      `<line x1="${f(x(t))}" x2="${f(x(t))}" y1="${PAD.top + PLOT_H}" y2="${PAD.top + PLOT_H + 4}" stroke="#9ca3af"/><text x="${f(x(t))}" y="${PAD.top + PLOT_H + 16}" text-anchor="middle">${h(text)}</text>`,
    );
  }
  parts.push(`<text x="${PAD.left + PLOT_W}" y="${HEIGHT - 4}" text-anchor="end">UTC</text>`);
  return parts.join('');
}

function legendItem(colour: string, label: string, dashed = false): string {
  const style = dashed ? `border-top:2px dashed ${colour};height:0;margin-bottom:4px` : `background:${colour}`;
  return `<span><i style="${style}"></i>${h(label)}</span>`;
}

/** A round axis top above `max`: 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= max) return m * power;
  return 10 * power;
}

function shortPeriod(period: string): string {
  // 2026-11-27T00:00:00.000Z → 11-27; an hour → 11-27 14h; a month → 2026-11.
  if (/T00:00:00(\.000)?Z$/.test(period))
    return period.slice(8, 10) === '01' && period.length > 10 ? period.slice(0, 10) : period.slice(5, 10);
  if (period.length === 7) return period;
  return `${period.slice(5, 10)} ${period.slice(11, 13)}h`;
}

const f = (n: number): string => (Math.round(n * 10) / 10).toString();
