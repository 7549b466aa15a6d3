import type { Producer } from '@burnrate/bus';
import { type Clock, type Logger, parseDuration, systemClock } from '@burnrate/core';
import { type SpendCorrection, TOPICS, usageRollupKey } from '@burnrate/schemas';
import type { SpendCorrectionRow, Store } from '@burnrate/store';

/**
 * Tells the budget forecast what the providers' reports say: every `everyMs` it reads, from the
 * store, each team's UTC days of this month (and last month's, until a day into this one) where a
 * report counts, and publishes the days whose figures changed since it last did as
 * SpendCorrections on usage.rollups.v1 (key org:team, beside the team's rollups, so stage B takes
 * them in order with its snapshots). The figures are the reconciliation's (the store decides which
 * report counts), so the forecast's month to date and the spend views agree.
 *
 * Each message holds a day's latest figures, not a change: a restart publishes every day again,
 * which the forecast takes as the same figures; nothing is kept on disk.
 */
export interface ReportCorrections {
  start(): void;
  stop(): Promise<void>;
  /** One read and publish; what the loop does every `everyMs`. Returns the days published. */
  runOnce(): Promise<number>;
  status(): ReportCorrectionsStatus;
}

export interface ReportCorrectionsStatus {
  /** When the store was last read successfully. */
  last_run_at: string | null;
  /** Days published since start (a day again whenever its figures changed). */
  published: number;
  /** Days whose reports count other than detection did, at the last run, and by how much in all. */
  teams_days_corrected: number;
  delta_usd: number;
  last_error: { at: string; message: string } | null;
}

export interface ReportCorrectionsDeps {
  store: Pick<Store, 'spendCorrections'>;
  producer: Producer;
  log: Logger;
  clock?: Clock;
  /** Time between two reads of the store. Default 5 minutes (the pollers' default interval). */
  everyMs?: number;
}

export const DEFAULT_REPORT_CORRECTIONS_EVERY_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

/** `BURNRATE_RECONCILE_INTERVAL` (a duration, 1s to 1d; default 5m). */
export function readReconcileInterval(env: Record<string, string | undefined>): number {
  const text = env.BURNRATE_RECONCILE_INTERVAL;
  if (text === undefined || text === '') return DEFAULT_REPORT_CORRECTIONS_EVERY_MS;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000 || ms > DAY_MS) {
    throw new Error(`BURNRATE_RECONCILE_INTERVAL must be a duration from 1s to 1d, such as 5m; got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** The first UTC day whose corrections still matter: the month of a day ago (a team west of UTC is still in it). */
export function correctionsFrom(nowMs: number): string {
  const d = new Date(nowMs - DAY_MS);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
}

export function createReportCorrections(deps: ReportCorrectionsDeps): ReportCorrections {
  const log = deps.log.child({ component: 'report-corrections' });
  const clock = deps.clock ?? systemClock;
  const everyMs = deps.everyMs ?? DEFAULT_REPORT_CORRECTIONS_EVERY_MS;
  const topic = TOPICS.usageRollups.name;
  // The figures last published per `org \u001f team \u001f day`.
  const published = new Map<string, string>();
  const status: ReportCorrectionsStatus = { last_run_at: null, published: 0, teams_days_corrected: 0, delta_usd: 0, last_error: null };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  const runOnce = async (): Promise<number> => {
    const now = clock.now().getTime();
    const from = correctionsFrom(now);
    const rows = await deps.store.spendCorrections({ from });
    const due: Array<{ key: string; figures: string; row: SpendCorrectionRow }> = [];
    let corrected = 0;
    let delta = 0;
    for (const row of rows) {
      const d = row.counted_usd - row.judged_usd;
      if (Math.abs(d) >= 0.005) {
        corrected += 1;
        delta += d;
      }
      const key = `${row.org}\u001f${row.team}\u001f${row.day}`;
      const figures = `${String(row.counted_usd)}\u001f${String(row.judged_usd)}\u001f${row.sources.join(',')}`;
      if (published.get(key) !== figures) due.push({ key, figures, row });
    }
    if (due.length > 0) {
      const asOf = new Date(now).toISOString();
      await deps.producer.send(
        topic,
        due.map(({ row }) => {
          const correction: SpendCorrection = {
            correction: 'provider_reports',
            org: row.org,
            team: row.team,
            day: row.day,
            counted_usd: row.counted_usd,
            judged_usd: row.judged_usd,
            sources: row.sources,
            as_of: asOf,
          };
          return { key: usageRollupKey(row), value: JSON.stringify(correction) };
        }),
      );
      for (const d of due) published.set(d.key, d.figures);
      log.info({ days: due.length, from }, 'published what the providers reports count per team and day');
    }
    // Days of months gone: nothing reads them again.
    const first = from.slice(0, 10);
    for (const key of published.keys()) if (key.slice(key.lastIndexOf('\u001f') + 1) < first) published.delete(key);
    status.last_run_at = new Date(now).toISOString();
    status.published += due.length;
    status.teams_days_corrected = corrected;
    status.delta_usd = Math.round(delta * 100) / 100;
    status.last_error = null;
    return due.length;
  };

  const tick = (): void => {
    running = runOnce()
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        status.last_error = { at: clock.now().toISOString(), message };
        log.warn({ err }, 'could not read or publish what the providers reports count; trying again at the next interval');
      })
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  };

  return {
    start() {
      stopped = false;
      tick();
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
    runOnce,
    status: () => ({ ...status, last_error: status.last_error === null ? null : { ...status.last_error } }),
  };
}
