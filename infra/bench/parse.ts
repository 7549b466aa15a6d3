// `node infra/bench/parse.ts` (Node 24): the detector's per-message validation — JSON.parse, then UsageEvent's zod
// safeParse or its hand-written twin safeParseUsageEvent — on the generated scenario stream,
// serialised as ingest publishes it, in one run on one thread. Machines are shared and noisy, so
// the ratios are the figures to trust, not the absolute times.
import { parseArgs } from 'node:util';
import { safeParseUsageEvent, UsageEvent } from '@burnrate/schemas';
import { generateScenario } from '@burnrate/scenarios';

const { values } = parseArgs({
  options: {
    passes: { type: 'string', default: '5' },
    weeks: { type: 'string', default: '6' },
  },
});
const passes = Math.max(1, Number(values.passes));

// As on usage.events.v1: ingest publishes zod's output, so instants are already `...mmmZ`.
const lines = generateScenario({ weeks: Math.max(3, Number(values.weeks)) }).events.map((e) => JSON.stringify(UsageEvent.parse(e)));
const parsed = lines.map((l) => JSON.parse(l) as unknown);

/** Best of `passes` timed runs after one warm-up, in ns per event: the least disturbed figure. */
function nsPerEvent(run: () => number): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = run();
  for (let p = 0; p < passes; p++) {
    const t = performance.now();
    sink += run();
    best = Math.min(best, ((performance.now() - t) * 1e6) / lines.length);
  }
  if (sink < 0) throw new Error('unreachable: keeps the runs from being optimised away');
  return best;
}

const valid = (r: { success: boolean }): number => (r.success ? 1 : 0);
const count = (xs: readonly unknown[], check: (x: unknown) => number): number => {
  let n = 0;
  for (const x of xs) n += check(x);
  return n;
};

const rows: Array<[string, number]> = [
  ['JSON.parse', nsPerEvent(() => count(lines, (l) => (JSON.parse(l as string) === null ? 0 : 1)))],
  ['UsageEvent.safeParse (zod)', nsPerEvent(() => count(parsed, (v) => valid(UsageEvent.safeParse(v))))],
  ['safeParseUsageEvent', nsPerEvent(() => count(parsed, (v) => valid(safeParseUsageEvent(v))))],
  ['JSON.parse + zod', nsPerEvent(() => count(lines, (l) => valid(UsageEvent.safeParse(JSON.parse(l as string)))))],
  ['JSON.parse + safeParseUsageEvent', nsPerEvent(() => count(lines, (l) => valid(safeParseUsageEvent(JSON.parse(l as string)))))],
];
const zod = rows[1]![1];
process.stdout.write(`usage event validation, ${lines.length.toLocaleString('en-US')} scenario events, best of ${passes} passes\n\n`);
for (const [name, ns] of rows) {
  process.stdout.write(`  ${name.padEnd(34)} ${(ns / 1000).toFixed(2).padStart(6)} µs/event  ${(zod / ns).toFixed(2).padStart(6)}x zod\n`);
}
