// `npm run eval:detection [-- --input DIR | --seed N --weeks N --scale full|small] [--json]`:
// replays a labelled scenario through the detectors exactly as the live detector runs them
// (`replay` from @burnrate/detector, whatever detectors are registered) and scores the anomalies
// against the labels. Exits 1 when a target is missed, so it can gate a change.
import { parseArgs } from 'node:util';
import type { Config } from '@burnrate/core';
import { replay } from '@burnrate/detector';
import type { UsageEvent } from '@burnrate/schemas';
import {
  DEFAULT_SEED,
  DEFAULT_START,
  DEFAULT_WEEKS,
  type Evaluation,
  evaluate,
  type Finding,
  generateScenario,
  readScenario,
  type ScenarioLabels,
  subjectText,
  table,
} from '@burnrate/scenarios';

const { values } = parseArgs({
  options: {
    input: { type: 'string' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    start: { type: 'string', default: DEFAULT_START },
    weeks: { type: 'string', default: String(DEFAULT_WEEKS) },
    scale: { type: 'string', default: 'full' },
    json: { type: 'boolean', default: false },
  },
});

let config: Config;
let events: UsageEvent[];
let labels: ScenarioLabels;
if (values.input !== undefined) {
  ({ config, events, labels } = await readScenario(values.input));
} else {
  const scale = values.scale === 'small' ? 'small' : 'full';
  ({ config, events, labels } = generateScenario({ seed: Number(values.seed), start: values.start, weeks: Number(values.weeks), scale }));
}

const started = performance.now();
const result = await replay(events, config);
const replayMs = performance.now() - started;
const evaluation = evaluate(result.anomalies, labels);

if (values.json) {
  console.log(JSON.stringify({ seed: labels.seed, replay: { ...result.stats, ms: Math.round(replayMs) }, ...evaluation }, null, 2));
} else {
  console.log(report(evaluation, labels, result.stats, replayMs));
}
process.exitCode = evaluation.pass ? 0 : 1;

function minutes(ms: number | null): string {
  if (ms === null) return '-';
  const sign = ms < 0 ? '-' : '';
  const m = Math.abs(ms) / 60_000;
  return m < 120 ? `${sign}${m.toFixed(1)} min` : `${sign}${(m / 60).toFixed(1)} h`;
}

function findingRow(f: Finding): string[] {
  return [f.at, f.kind, f.severity, subjectText(f.subject), f.summary.length > 110 ? `${f.summary.slice(0, 107)}...` : f.summary];
}

function report(
  e: Evaluation,
  l: ScenarioLabels,
  stats: { events: number; duplicates: number; late: number; invalid: number },
  ms: number,
): string {
  const out: string[] = [];
  out.push(
    `detection eval: seed ${l.seed}, ${l.period.from} .. ${l.period.to} (${l.weeks} weeks), ${stats.events} events replayed in ${(ms / 1000).toFixed(1)} s ` +
      `(duplicates ${stats.duplicates}, late ${stats.late}, invalid ${stats.invalid})`,
  );
  out.push(`anomalies: ${e.versions} versions, ${e.episodes} episodes, ${e.pages} paged (warning/critical)`);
  out.push('');
  out.push('incidents (time to detect = first warning/critical version, event time, minus the onset of the labelled condition):');
  out.push(
    table(
      ['incident', 'kind', 'subject', 'detected', 'severity', 'time to detect', 'from story start', 'target', 'on time'],
      e.incidents.map((i) => [
        i.id,
        i.kind,
        subjectText(i.subject),
        i.detected
          ? i.paging_since === null
            ? 'yes'
            : `yes (paging since ${i.paging_since.slice(0, 16)}Z)`
          : i.info_only
            ? 'no (info only)'
            : 'no',
        i.severity ?? '-',
        minutes(i.ttd_ms),
        minutes(i.ttd_from_story_ms),
        i.within_ms === null ? '-' : `<= ${minutes(i.within_ms)}`,
        i.on_time === null ? '-' : i.on_time ? 'yes' : 'NO',
      ]),
    ),
  );
  out.push('');
  out.push('decoys (highest severity on the subject inside the window; must be info or none):');
  out.push(
    table(
      ['decoy', 'subject', 'highest', 'anomalies', 'ok'],
      e.decoys.map((d) => [d.id, subjectText(d.subject), d.max_severity, String(d.anomalies.length), d.ok ? 'yes' : 'NO']),
    ),
  );
  const loud = e.decoys.flatMap((d) => d.anomalies.filter((a) => a.severity !== 'info').map((a) => [d.id, ...findingRow(a)]));
  if (loud.length > 0) {
    out.push('  decoy pages:');
    out.push(table(['decoy', 'at', 'kind', 'severity', 'subject', 'summary'], loud.slice(0, 20)));
  }
  out.push('');
  out.push(`false pages per team (not explained by a labelled incident), over ${l.weeks} weeks:`);
  out.push(
    table(
      ['team', 'pages', 'false pages', 'per week', 'ok'],
      e.teams.map((t) => [t.team, String(t.pages), String(t.false_pages), t.per_week.toFixed(2), t.ok ? 'yes' : 'NO']),
    ),
  );
  if (e.false_pages.length > 0) {
    const byKind = new Map<string, number>();
    for (const f of e.false_pages) byKind.set(`${f.subject.team}/${f.kind}`, (byKind.get(`${f.subject.team}/${f.kind}`) ?? 0) + 1);
    out.push(`  by team/kind: ${[...byKind.entries()].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    out.push(`  first ${Math.min(25, e.false_pages.length)} of ${e.false_pages.length}:`);
    out.push(table(['at', 'kind', 'severity', 'subject', 'summary'], e.false_pages.slice(0, 25).map(findingRow)));
  }
  out.push('');
  out.push('targets:');
  for (const t of e.targets) out.push(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.detail}`);
  out.push(`overall: ${e.pass ? 'PASS' : 'FAIL'}`);
  return out.join('\n');
}
