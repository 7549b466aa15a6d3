// `npm run eval:detection [-- --seeds N --jobs N --generator scenarios|orgsim|both --weeks N --json]`
// replays labelled organisations from two independently written generators (@burnrate/scenarios,
// @burnrate/orgsim) through the detectors, counts the pages the owning teams receive after the
// notifier's routing, decisions, inhibition, incidents and grouping (pages.ts), and prints min / median /
// max over seeds per generator with PASS/FAIL per target. Exits 1 only when a labelled incident is
// missed; the page, deadline and decoy targets are reported, not enforced.
//
// `--seed N --generator G` (or `--input DIR` for files written by `npm run scenarios`) prints one
// organisation in detail: incidents, decoys, pages per team and every page sent.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { replay } from '@burnrate/detector';
import { evaluate, readScenario, subjectText, table } from '@burnrate/scenarios';
import { pagesPerTeam, teamMessages } from './pages.ts';
import {
  GENERATORS,
  type GeneratorName,
  loopDeadline,
  runSeedDetail,
  type SeedDetail,
  type SeedResult,
  type SeedTask,
} from './run-seed.ts';

const TARGET_MEDIAN_SEED = 1;
const TARGET_WORST_SEED = 2;

const { values } = parseArgs({
  options: {
    generator: { type: 'string', default: 'both' },
    seeds: { type: 'string', default: '20' },
    'first-seed': { type: 'string', default: '1' },
    seed: { type: 'string' },
    input: { type: 'string' },
    weeks: { type: 'string' },
    jobs: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    json: { type: 'boolean', default: false },
  },
});

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return n;
}

const generators: GeneratorName[] =
  values.generator === 'both'
    ? [...GENERATORS]
    : GENERATORS.includes(values.generator as GeneratorName)
      ? [values.generator as GeneratorName]
      : (() => {
          throw new Error(`--generator must be scenarios, orgsim or both, got "${values.generator}"`);
        })();
const weeks = values.weeks === undefined ? undefined : positiveInt('weeks', values.weeks);

if (values.input !== undefined) {
  const { config, events, labels } = await readScenario(values.input);
  const started = performance.now();
  const result = await replay(events, config);
  const replayMs = Math.round(performance.now() - started);
  const evaluation = evaluate(result.anomalies, labels);
  const messages = teamMessages(result.anomalies, config);
  const teams = pagesPerTeam(
    messages,
    config.teams.map((t) => t.id),
    Date.parse(labels.period.from),
    labels.weeks,
  );
  const detail: SeedDetail = {
    generator: 'scenarios',
    seed: labels.seed,
    weeks: labels.weeks,
    events: events.length,
    replay_ms: replayMs,
    teams,
    worst: teams.reduce((w, t) => (t.pages > w.pages ? t : w)),
    incidents: evaluation.incidents.map((i) => ({ id: i.id, detected: i.detected, severity: i.severity, detected_at: i.detected_at })),
    decoys: evaluation.decoys.map((d) => ({ id: d.id, max_severity: d.max_severity, ok: d.ok })),
    loop: loopDeadline(labels, config, result.anomalies),
    evaluation,
    messages,
  };
  if (values.json) console.log(JSON.stringify(detail, null, 2));
  else printDetail(detail);
  process.exitCode = detail.incidents.every((i) => i.detected) ? 0 : 1;
} else if (values.seed !== undefined) {
  if (generators.length !== 1) throw new Error('--seed needs --generator scenarios or --generator orgsim');
  const detail = await runSeedDetail({
    generator: generators[0] as GeneratorName,
    seed: positiveInt('seed', values.seed),
    ...(weeks ? { weeks } : {}),
  });
  if (values.json) console.log(JSON.stringify(detail, null, 2));
  else printDetail(detail);
  process.exitCode = detail.incidents.every((i) => i.detected) ? 0 : 1;
} else {
  const seeds = positiveInt('seeds', values.seeds);
  const first = positiveInt('first-seed', values['first-seed']);
  const jobs = positiveInt('jobs', values.jobs);
  const tasks: SeedTask[] = generators.flatMap((generator) =>
    Array.from({ length: seeds }, (_, i) => ({ generator, seed: first + i, ...(weeks ? { weeks } : {}) })),
  );
  const started = performance.now();
  const results = await runAll(tasks, jobs);
  const seconds = (performance.now() - started) / 1000;
  if (values.json) console.log(JSON.stringify({ seconds, results }, null, 2));
  else console.log(summary(results, seconds, jobs));
  process.exitCode = results.every((r) => r.incidents.every((i) => i.detected)) ? 0 : 1;
}

/** Runs the tasks on `jobs` worker threads (each task is a whole organisation: seconds of CPU). */
async function runAll(tasks: readonly SeedTask[], jobs: number): Promise<SeedResult[]> {
  const results: SeedResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    const w = new Worker(new URL('./seed-worker.ts', import.meta.url));
    try {
      while (next < tasks.length) {
        const task = tasks[next++] as SeedTask;
        const reply = await new Promise<{ ok: true; result: SeedResult } | { ok: false; error: string }>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
          w.postMessage(task);
        });
        w.removeAllListeners('error');
        if (!reply.ok) throw new Error(`${task.generator} seed ${task.seed} failed: ${reply.error}`);
        results.push(reply.result);
        process.stderr.write(`  ${task.generator} seed ${task.seed}: ${reply.result.events} events, replay ${reply.result.replay_ms} ms\n`);
      }
    } finally {
      await w.terminate();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results.sort((a, b) => a.generator.localeCompare(b.generator) || a.seed - b.seed);
}

function quantiles(xs: readonly number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { min: s[0] ?? 0, median, max: s.at(-1) ?? 0 };
}

function mmm(q: { min: number; median: number; max: number }, digits = 2): string {
  return `${q.min.toFixed(digits)} / ${q.median.toFixed(digits)} / ${q.max.toFixed(digits)}`;
}

function localTime(iso: string | null, zone: string): string {
  if (iso === null) return 'never';
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));
}

function summary(results: readonly SeedResult[], seconds: number, jobs: number): string {
  const out: string[] = [];
  const byGen = GENERATORS.map((g) => [g, results.filter((r) => r.generator === g)] as const).filter(([, rs]) => rs.length > 0);
  out.push(`detection eval: ${results.length} organisations in ${seconds.toFixed(0)} s on ${jobs} worker(s)`);
  out.push('pages = messages to a team receiver after routing, decide(), inhibition, incidents and grouping (team+kind, 10 s / 5 min);');
  out.push('a quiet Slack thread reply (growth, not shown in the channel) is a thread update, not a page');
  out.push('');
  for (const [g, rs] of byGen) {
    out.push(`${g}, per seed:`);
    out.push(
      table(
        [
          'seed',
          'events',
          'worst team',
          'pages/week',
          'worst week',
          'its pages by kind',
          'incidents',
          'missed',
          'decoys above info',
          'loop critical (local)',
          'deadline',
        ],
        rs.map((r) => [
          String(r.seed),
          String(r.events),
          r.worst.team,
          r.worst.perWeek.toFixed(2),
          String(r.worst.worstWeek),
          r.worst.byKind
            .slice(0, 3)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ') || '-',
          `${r.incidents.filter((i) => i.detected).length}/${r.incidents.length}`,
          r.incidents
            .filter((i) => !i.detected)
            .map((i) => i.id)
            .join(', ') || '-',
          r.decoys
            .filter((d) => !d.ok)
            .map((d) => `${d.id} (${d.max_severity})`)
            .join(', ') || '-',
          r.loop === null ? '-' : localTime(r.loop.critical_at, r.loop.zone),
          r.loop === null ? '-' : `${localTime(r.loop.deadline, r.loop.zone)} ${r.loop.on_time ? 'ok' : 'LATE'}`,
        ]),
      ),
    );
    out.push('');
  }
  out.push('summary (min / median / max over seeds):');
  const rows = byGen.map(([g, rs]) => {
    const detected = rs.map((r) => r.incidents.filter((i) => i.detected).length / Math.max(1, r.incidents.length));
    const loud = rs.map((r) => r.decoys.filter((d) => !d.ok).length);
    const loops = rs.filter((r) => r.loop !== null);
    return [
      g,
      String(rs.length),
      mmm(quantiles(rs.map((r) => r.worst.perWeek))),
      `${mmm(quantiles(detected.map((d) => d * 100)), 0)} %`,
      String(rs.reduce((n, r) => n + r.incidents.filter((i) => !i.detected).length, 0)),
      mmm(quantiles(loud), 0),
      `${loops.filter((r) => r.loop?.on_time).length}/${loops.length}`,
    ];
  });
  out.push(
    table(
      [
        'generator',
        'seeds',
        'worst-team pages/week',
        'incidents detected',
        'missed (total)',
        'decoys above info',
        'loop critical before Sat 00:00',
      ],
      rows,
    ),
  );
  out.push('');
  out.push('targets (reported, not enforced: only a missed incident fails the run):');
  for (const [g, rs] of byGen) {
    const q = quantiles(rs.map((r) => r.worst.perWeek));
    const missed = rs.flatMap((r) => r.incidents.filter((i) => !i.detected).map((i) => `${r.seed}:${i.id}`));
    const late = rs.filter((r) => r.loop !== null && !r.loop.on_time).map((r) => r.seed);
    const loud = rs.flatMap((r) => r.decoys.filter((d) => !d.ok).map((d) => `${r.seed}:${d.id}`));
    const line = (pass: boolean, name: string, detail: string): string => `  ${pass ? 'PASS' : 'FAIL'}  ${g}: ${name}: ${detail}`;
    out.push(line(missed.length === 0, 'every labelled incident detected', missed.length === 0 ? 'all' : `missed ${cap(missed)}`));
    out.push(
      line(
        late.length === 0,
        'weekend loop critical before Saturday 00:00 (team zone)',
        late.length === 0 ? 'all seeds' : `late on seeds ${cap(late.map(String))}`,
      ),
    );
    out.push(line(q.median <= TARGET_MEDIAN_SEED, `worst team <= ${TARGET_MEDIAN_SEED} page/week at the median seed`, q.median.toFixed(2)));
    out.push(line(q.max <= TARGET_WORST_SEED, `worst team <= ${TARGET_WORST_SEED} pages/week at the worst seed`, q.max.toFixed(2)));
    out.push(line(loud.length === 0, 'no decoy above info', loud.length === 0 ? 'all quiet' : cap(loud)));
  }
  return out.join('\n');
}

function cap(items: readonly string[], n = 8): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}

function printDetail(d: SeedDetail): void {
  const e = d.evaluation;
  const out: string[] = [];
  out.push(
    `${d.generator} seed ${d.seed}: ${d.events} events, ${d.weeks} weeks, replay ${d.replay_ms} ms; ${e.versions} versions, ${e.episodes} episodes`,
  );
  out.push('');
  out.push('incidents:');
  out.push(
    table(
      ['incident', 'subject', 'detected', 'severity', 'at'],
      e.incidents.map((i) => [
        i.id,
        subjectText(i.subject),
        i.detected ? 'yes' : i.info_only ? 'no (info only)' : 'no',
        i.severity ?? '-',
        i.detected_at ?? '-',
      ]),
    ),
  );
  if (d.loop !== null)
    out.push(
      `weekend loop: critical ${localTime(d.loop.critical_at, d.loop.zone)}, deadline ${localTime(d.loop.deadline, d.loop.zone)} (${d.loop.zone}): ${d.loop.on_time ? 'on time' : 'LATE'}`,
    );
  out.push('');
  out.push('decoys (must stay info or quieter):');
  out.push(
    table(
      ['decoy', 'subject', 'highest', 'ok'],
      e.decoys.map((x) => [x.id, subjectText(x.subject), x.max_severity, x.ok ? 'yes' : 'NO']),
    ),
  );
  out.push('');
  out.push(`pages per team over ${d.weeks} weeks:`);
  out.push(
    table(
      ['team', 'pages', 'per week', 'worst week', 'resolution notes', 'thread updates', 'pages by kind'],
      d.teams.map((t) => [
        t.team,
        String(t.pages),
        t.perWeek.toFixed(2),
        String(t.worstWeek),
        String(t.resolutionNotes),
        String(t.threadUpdates),
        t.byKind.map(([k, n]) => `${k} ${n}`).join(', '),
      ]),
    ),
  );
  out.push('');
  out.push('pages:');
  out.push(
    table(
      ['at', 'team', 'receiver', 'anomalies'],
      d.messages
        .filter((m) => m.page)
        .map((m) => [
          new Date(m.at).toISOString().slice(0, 16),
          m.team,
          m.receiver,
          cap(
            m.items.map((i) => `${i.kind} ${i.severity} ${i.reason}`),
            3,
          ),
        ]),
    ),
  );
  console.log(out.join('\n'));
}
