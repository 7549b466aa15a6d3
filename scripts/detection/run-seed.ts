// One labelled organisation from one generator: generate, replay through the detectors (`replay`
// from @burnrate/detector, as the live detector runs them), count what the team receivers are sent
// (pages.ts) and score the labels. `seed-worker.ts` runs it on a worker thread.
import { type Config, teamTimezone } from '@burnrate/core';
import { replay } from '@burnrate/detector';
import { generateOrgsim, localDay, shiftDay, weekdayOf, zonedInstant } from '@burnrate/orgsim';
import { type Evaluation, evaluate, generateScenario, type ScenarioLabels } from '@burnrate/scenarios';
import type { Anomaly, UsageEvent } from '@burnrate/schemas';
import { type Message, pagesPerTeam, type TeamPages, teamMessages } from './pages.ts';

export type GeneratorName = 'scenarios' | 'orgsim';
export const GENERATORS: readonly GeneratorName[] = ['scenarios', 'orgsim'];

export interface SeedTask {
  generator: GeneratorName;
  seed: number;
  weeks?: number;
}

export interface LoopDeadline {
  zone: string;
  deadline: string;
  /** First critical version on the loop's session, or null. */
  critical_at: string | null;
  on_time: boolean;
}

export interface SeedResult {
  generator: GeneratorName;
  seed: number;
  weeks: number;
  events: number;
  replay_ms: number;
  teams: TeamPages[];
  worst: TeamPages;
  incidents: { id: string; detected: boolean; severity: string | null; detected_at: string | null }[];
  decoys: { id: string; max_severity: string; ok: boolean }[];
  loop: LoopDeadline | null;
}

export interface SeedDetail extends SeedResult {
  evaluation: Evaluation;
  messages: Message[];
}

export function generate(task: SeedTask): {
  events: UsageEvent[];
  config: Config;
  labels: ScenarioLabels & { deadlines?: { incident: string; subject: { session?: string }; zone: string; critical_by: string }[] };
} {
  if (task.generator === 'orgsim') return generateOrgsim({ seed: task.seed, ...(task.weeks !== undefined ? { weeks: task.weeks } : {}) });
  return generateScenario({ seed: task.seed, ...(task.weeks !== undefined ? { weeks: task.weeks } : {}) });
}

/**
 * When the weekend loop must be critical: the labels' own deadline (orgsim), or else Saturday
 * 00:00 in the loop team's zone after the story starts (the weekend-loop story of @burnrate/scenarios).
 */
export function loopDeadline(
  labels: ReturnType<typeof generate>['labels'],
  config: Config,
  anomalies: readonly Anomaly[],
): LoopDeadline | null {
  let session: string | undefined;
  let zone: string;
  let deadline: number;
  const own = labels.deadlines?.find((d) => d.incident === 'weekend-loop');
  if (own !== undefined) {
    session = own.subject.session;
    zone = own.zone;
    deadline = Date.parse(own.critical_by);
  } else {
    const incident = labels.incidents.find((i) => i.story === 'weekend-loop');
    if (incident === undefined) return null;
    session = incident.subject.session;
    zone = teamTimezone(config, incident.subject.team);
    const day = localDay(Date.parse(incident.story_start), zone);
    const saturday = shiftDay(day, (6 - weekdayOf(day) + 7) % 7 || 7);
    deadline = zonedInstant(saturday, 0, zone);
  }
  const critical = anomalies
    .filter((a) => a.severity === 'critical' && session !== undefined && a.subject.session === session)
    .map((a) => Date.parse(a.detected_at))
    .sort((x, y) => x - y)[0];
  return {
    zone,
    deadline: new Date(deadline).toISOString(),
    critical_at: critical === undefined ? null : new Date(critical).toISOString(),
    on_time: critical !== undefined && critical < deadline,
  };
}

export async function runSeedDetail(task: SeedTask): Promise<SeedDetail> {
  const { events, config, labels } = generate(task);
  const started = performance.now();
  const result = await replay(events, config);
  const replayMs = performance.now() - started;
  const evaluation = evaluate(result.anomalies, labels);
  const messages = teamMessages(result.anomalies, config);
  const teams = pagesPerTeam(
    messages,
    config.teams.map((t) => t.id),
    Date.parse(labels.period.from),
    labels.weeks,
  );
  const worst = teams.reduce((w, t) => (t.pages > w.pages ? t : w));
  return {
    generator: task.generator,
    seed: task.seed,
    weeks: labels.weeks,
    events: events.length,
    replay_ms: Math.round(replayMs),
    teams,
    worst,
    incidents: evaluation.incidents.map((i) => ({ id: i.id, detected: i.detected, severity: i.severity, detected_at: i.detected_at })),
    decoys: evaluation.decoys.map((d) => ({ id: d.id, max_severity: d.max_severity, ok: d.ok })),
    loop: loopDeadline(labels, config, result.anomalies),
    evaluation,
    messages,
  };
}

export async function runSeed(task: SeedTask): Promise<SeedResult> {
  const { evaluation: _e, messages: _m, ...result } = await runSeedDetail(task);
  return result;
}
