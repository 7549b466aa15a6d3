import { type Config, type ConfigSource, findTeam, type Logger, receiversOf, teamCalendar, teamTimezone } from '@burnrate/core';
import { compileCalendar, localMidnight, localTime, lookByPhrase, type WorkCalendar } from '@burnrate/detection';
import type { NotificationContext, TeamMonth } from '@burnrate/notify';
import type { Anomaly } from '@burnrate/schemas';
import type { Store } from '@burnrate/store';

/** Who supplies a message's context: the dispatcher asks before each send, the message views before each update. */
export type MessageContextOf = (anomalies: readonly Anomaly[], now: Date) => Promise<NotificationContext>;

export interface MessageContextDeps {
  config: ConfigSource;
  store: Pick<Store, 'reconciliation'>;
  log: Logger;
  /** How long a team's month-to-date figure is reused (default 60 s): a burst of messages costs one query per team. */
  cacheMs?: number;
  /** How long a message waits for the store before it goes without the month line (default 1 s). */
  timeoutMs?: number;
}

const DAY_MS = 86_400_000;
/**
 * Before the 3rd day of a month its pace says little (one busy Monday is the whole month), so the
 * line gives spend and budget and no "on course for" until then.
 */
const MIN_DAYS_FOR_PACE = 2;

interface Cached {
  atMs: number;
  month: Promise<TeamMonth | undefined>;
}

/**
 * What a message says around its anomalies (NotificationContext):
 *   - each team's month: counted spend since the 1st of the month in the team's zone, read from
 *     the store's reconciliation (`counted_usd`: the providers' reports where they count, else the
 *     live events, so each dollar once), against `teams[].budget.monthly_usd`, and the month-end
 *     figure at this pace (an open budget_forecast in the message gives its own trend projection
 *     instead, so one message never shows two). Cached per team for `cacheMs`; a store that
 *     fails or takes longer than `timeoutMs` leaves the line out and the message goes anyway.
 *   - by anomaly, when its team is likely to look (lookByPhrase at `detected_at`): the horizon the
 *     detector projected `projected_usd` to, from the same calendar and on-call rule.
 */
export function createMessageContext(deps: MessageContextDeps): MessageContextOf {
  const log = deps.log.child({ component: 'message-context' });
  const cacheMs = deps.cacheMs ?? 60_000;
  const timeoutMs = deps.timeoutMs ?? 1_000;
  const months = new Map<string, Cached>();
  // Calendars by team, for the config they were compiled from: a reload compiles afresh.
  const calendars = new WeakMap<Config, Map<string, WorkCalendar>>();

  function calendarOf(config: Config, team: string): WorkCalendar {
    let byTeam = calendars.get(config);
    if (!byTeam) {
      byTeam = new Map();
      calendars.set(config, byTeam);
    }
    let cal = byTeam.get(team);
    if (!cal) {
      // As the detector compiles it (services/detector detectorConfigs): a team with on-call is looked at within its response time.
      const oncallResponseMs = receiversOf(findTeam(config, team)?.oncall).length > 0 ? config.routes.oncall_response : undefined;
      cal = compileCalendar(teamCalendar(config, team), teamTimezone(config, team), { oncallResponseMs });
      byTeam.set(team, cal);
    }
    return cal;
  }

  async function readMonth(org: string, team: string, fromMs: number, nextMs: number, nowMs: number, budget: number | undefined) {
    const rows = await deps.store.reconciliation({ from: new Date(fromMs).toISOString(), org, team });
    const spent = rows.filter((r) => r.team === team).reduce((sum, r) => sum + r.counted_usd, 0);
    const elapsed = nowMs - fromMs;
    const month: TeamMonth = { team, spent_usd: spent, ...(budget !== undefined ? { budget_usd: budget } : {}) };
    if (elapsed >= MIN_DAYS_FOR_PACE * DAY_MS) month.on_course_usd = (spent * (nextMs - fromMs)) / elapsed;
    return month;
  }

  function monthOf(config: Config, org: string, team: string, nowMs: number): Promise<TeamMonth | undefined> {
    const cal = calendarOf(config, team);
    const today = localTime(cal, nowMs).date;
    const first = `${today.slice(0, 8)}01`;
    const key = `${org}\u0000${team}\u0000${first}`;
    const cached = months.get(key);
    if (cached && nowMs - cached.atMs < cacheMs) return cached.month;
    const [year, mon] = [Number(today.slice(0, 4)), Number(today.slice(5, 7))];
    const next = mon === 12 ? `${year + 1}-01-01` : `${year}-${String(mon + 1).padStart(2, '0')}-01`;
    const budget = findTeam(config, team)?.budget?.monthly_usd;
    const month = readMonth(org, team, localMidnight(cal, first), localMidnight(cal, next), nowMs, budget).catch((err: unknown) => {
      // Once per cache period, not per message: the next one asks again after cacheMs.
      log.warn({ err, team }, "could not read the team's month-to-date spend; messages go without it");
      return undefined;
    });
    months.set(key, { atMs: nowMs, month });
    for (const [k, c] of months) if (nowMs - c.atMs >= cacheMs) months.delete(k);
    return month;
  }

  async function withinTimeout<T>(work: Promise<T>, team: string): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        log.warn({ team, timeoutMs }, "the team's month-to-date spend took too long; this message goes without it");
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  return async (anomalies, now) => {
    const config = deps.config.current();
    const nowMs = now.getTime();
    const lookBy: Record<string, string> = {};
    for (const a of anomalies) {
      if (a.status === 'open' && a.projected_usd > 0)
        lookBy[a.id] = lookByPhrase(calendarOf(config, a.subject.team), Date.parse(a.detected_at));
    }
    const teams = new Map<string, string>();
    for (const a of anomalies) if (!teams.has(a.subject.team)) teams.set(a.subject.team, a.subject.org);
    const found = await Promise.all(
      [...teams].map(async ([team, org]) => {
        const month = await withinTimeout(monthOf(config, org, team, nowMs), team);
        if (!month) return undefined;
        // The detector's trend fit, where the message carries it, rather than a second figure at a plain pace.
        const forecast = anomalies.find((a) => a.kind === 'budget_forecast' && a.status === 'open' && a.subject.team === team);
        return forecast ? { ...month, on_course_usd: forecast.observed.value } : month;
      }),
    );
    const teamMonths = found.filter((m): m is TeamMonth => m !== undefined);
    return {
      ...(Object.keys(lookBy).length > 0 ? { lookBy } : {}),
      ...(teamMonths.length > 0 ? { months: teamMonths } : {}),
    };
  };
}
