import { type Clock, isBurnrateError, type Logger } from '@burnrate/core';
import {
  buildUsageEvent,
  deterministicEventId,
  type IngestCore,
  type NormalizeContext,
  toDlqRecord,
  type UsageFields,
} from '@burnrate/ingest';
import type { DlqRecord, UsageEvent } from '@burnrate/schemas';
import { abortableSleep, type ProviderHttp } from './provider-http.ts';
import { type PollerState, type StateFile, TOTAL_FIELDS, type Totals } from './poller-state.ts';
import type { BucketRow, UsageSource } from './source.ts';

export interface PollerOptions {
  source: UsageSource;
  http: ProviderHttp;
  state: StateFile;
  /** Where events go: the same normalisation context, ledger and publish as every ingest route. */
  ingest: IngestCore;
  clock: Clock;
  log: Logger;
  intervalMs: number;
  /** Buckets before the cursor read again on every poll (the source may ask for more). */
  overlapBuckets: number;
  /** How far back a poller without a cursor starts. */
  backfillMs: number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** One line of /healthz. */
export interface PollerHealth {
  source: string;
  /** When a poll last read every page and published what it found. */
  last_success_at: string | null;
  /** The end of the newest complete bucket read. */
  cursor: string | null;
  /** Seconds from the cursor to now: how far behind the provider's complete data this source is. */
  lag_s: number | null;
  last_error: { at: string; code: string; message: string } | null;
  /** Since start: events published (first reads and corrections), of which corrections, rows refused (DLQ), revisions downwards (not applied). */
  published: number;
  corrections: number;
  rejected: number;
  lowered: number;
}

export interface PollResult {
  buckets: number;
  published: number;
  corrections: number;
  rejected: number;
  lowered: number;
}

export interface Poller {
  readonly source: string;
  /** One poll: publish what a crash left pending, read the window, publish what is new or grew, save the cursor. */
  pollOnce(signal?: AbortSignal): Promise<PollResult>;
  /** Polls now and then every interval (longer when the provider asked to wait) until stopped. */
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): PollerHealth;
}

/** Below this a cost difference is float noise from the provider's decimal arithmetic, not a revision. */
const COST_EPSILON_USD = 1e-9;

/** A cost correction to 1e-10 USD: 2.86 − 1.86 is 1, not 0.9999999999999998. */
const roundCost = (usd: number): number => Math.round(usd * 1e10) / 1e10;

/** The principal of events the poller publishes itself: no sender's claims to check. */
const POLLER_PRINCIPAL = { source: 'poller', claims: undefined };

function totalsOf(fields: Omit<UsageFields, 'event_id'>): Totals {
  const totals: Totals = {};
  for (const field of TOTAL_FIELDS) {
    const value = fields[field];
    if (value !== undefined) totals[field] = value;
  }
  return totals;
}

/**
 * How a re-read row compares with what was published for it: the growth of each total (what a
 * correction carries), whether any total grew or fell, and the totals published once the
 * correction is (each the larger of the two, as a fall is not published).
 */
export function revision(before: Totals, after: Totals): { delta: Totals; grew: boolean; fell: boolean; published: Totals } {
  const delta: Totals = {};
  const published: Totals = { ...before };
  let grew = false;
  let fell = false;
  for (const field of TOTAL_FIELDS) {
    const now = after[field];
    if (now === undefined) continue;
    const was = before[field] ?? 0;
    const epsilon = field === 'cost_usd' ? COST_EPSILON_USD : 0;
    if (now > was + epsilon) {
      grew = true;
      delta[field] = field === 'cost_usd' ? roundCost(now - was) : Math.round(now - was);
      published[field] = now;
    } else {
      delta[field] = 0;
      if (now < was - epsilon) fell = true;
    }
  }
  // The 1-hour writes are a part of all writes, in a correction too.
  if (delta.cache_write_1h_tokens !== undefined && delta.cache_write_tokens !== undefined) {
    delta.cache_write_1h_tokens = Math.min(delta.cache_write_1h_tokens, delta.cache_write_tokens);
  }
  return { delta, grew, fell, published };
}

/**
 * Polls one provider report on an interval and turns its buckets into UsageEvents.
 *
 * Revisions. Providers revise recent buckets as late usage arrives, so each poll reads `overlap`
 * buckets before the cursor again. Events are immutable downstream (ingest's ledger dead-letters a
 * reused id with other content; the detector adds every new id), so a revised row is never sent
 * again under its id: the first read of a row publishes it under `<source>:sha256(row key)`, and a
 * re-read whose totals grew publishes a correction holding only the growth, under an id hashed from
 * the row key and the new totals. The bucket's spend is then the sum of its events, as everywhere
 * else, and a re-read after a crash yields the same ids again (duplicates, not double counts).
 * A total that falls (rare: a refund-like revision) cannot be published as a negative event; it is
 * counted in `lowered` and logged, and the published totals stay as they were.
 */
export function createPoller(options: PollerOptions): Poller {
  const { source, http, ingest, clock, log } = options;
  const sleep = options.sleep ?? abortableSleep;
  const bucketMs = source.bucketMs;
  const floor = (ms: number): number => Math.floor(ms / bucketMs) * bucketMs;
  let state: PollerState | undefined;
  const totals = { published: 0, corrections: 0, rejected: 0, lowered: 0 };
  let lastSuccessAt: string | null = null;
  let lastError: PollerHealth['last_error'] = null;
  const controller = new AbortController();
  let loop: Promise<void> | undefined;

  const overlap = Math.max(options.overlapBuckets, source.overlapBuckets ?? 0);
  const windowStart = (cursor: string | null, now: number): number =>
    cursor === null ? floor(now - options.backfillMs) : floor(Date.parse(cursor)) - overlap * bucketMs;

  const publish = async (events: readonly UsageEvent[], dlq: DlqRecord[]): Promise<number> => {
    if (events.length === 0 && dlq.length === 0) return 0;
    const verdicts = await ingest.publishChecked(events, dlq, (event, index, issue) => {
      dlq.push(toDlqRecord({ source: source.source, index, issues: [issue], raw: JSON.stringify(event), receivedAt: clock.now() }));
    });
    return verdicts.filter((v) => v.kind === 'new').length;
  };

  /** Saves `next` (with its pending events), publishes them, then saves it again without them. */
  const commit = async (next: PollerState, dlq: DlqRecord[]): Promise<number> => {
    await options.state.save(next);
    state = next;
    const published = await publish(next.pending, dlq);
    if (next.pending.length > 0) {
      const done = { ...next, pending: [] };
      await options.state.save(done);
      state = done;
    }
    return published;
  };

  const eventOf = (row: BucketRow, eventId: string, ctx: NormalizeContext) => buildUsageEvent({ ...row.fields, event_id: eventId }, ctx);

  const poll = async (signal: AbortSignal): Promise<PollResult> => {
    state ??= await options.state.load();
    if (state.pending.length > 0) {
      log.info({ pending: state.pending.length }, 'publishing the events a previous poll left pending');
      await commit(state, []);
    }
    const current = state;
    const now = clock.now().getTime();
    const start = windowStart(current.cursor, now);
    // The bucket in progress is read too: its usage so far is published, and its growth later.
    const buckets = await source.read({ start, end: floor(now) + bucketMs, now }, http, signal);

    const ctx = ingest.context(source.source, POLLER_PRINCIPAL);
    const rows: PollerState['rows'] = {};
    const events: UsageEvent[] = [];
    const dlq: DlqRecord[] = [];
    const result: PollResult = { buckets: buckets.length, published: 0, corrections: 0, rejected: 0, lowered: 0 };
    let cursor = current.cursor === null ? null : Date.parse(current.cursor);
    for (const bucket of buckets) {
      if (bucket.end <= now && (cursor === null || bucket.end > cursor)) cursor = bucket.end;
      const periodStart = new Date(bucket.start).toISOString();
      for (const row of bucket.rows) {
        const id = deterministicEventId(source.source, row.key);
        const after = totalsOf(row.fields);
        const before = current.rows[id]?.totals;
        let built;
        let published: Totals;
        if (before === undefined) {
          built = eventOf(row, id, ctx);
          published = after;
        } else {
          const change = revision(before, after);
          if (change.fell) {
            result.lowered += 1;
            log.warn({ eventId: id, before, after }, 'the provider lowered a bucket already published; the lower figure is not applied');
          }
          rows[id] = { period_start: periodStart, totals: before };
          if (!change.grew) continue;
          const correction = { ...row, fields: { ...row.fields, ...change.delta, attributes: { ...row.fields.attributes, corrects: id } } };
          built = eventOf(correction, deterministicEventId(source.source, { ...row.key, published: change.published }), ctx);
          published = change.published;
          if (built.ok) result.corrections += 1;
        }
        if (built.ok) {
          events.push(built.event);
          rows[id] = { period_start: periodStart, totals: published };
        } else {
          result.rejected += 1;
          dlq.push(toDlqRecord({ source: source.source, issues: built.issues, raw: JSON.stringify(row.raw), receivedAt: clock.now() }));
        }
      }
    }
    // Rows before the next poll's window are never read again: their totals are no longer needed.
    const nextCursor = cursor === null ? null : new Date(cursor).toISOString();
    const keepFrom = windowStart(nextCursor, now);
    for (const [id, row] of Object.entries(current.rows)) rows[id] ??= row;
    for (const [id, row] of Object.entries(rows)) {
      if (Date.parse(row.period_start) < keepFrom) delete rows[id];
    }

    result.published = await commit({ version: 1, cursor: nextCursor, rows, pending: events }, dlq);
    totals.published += result.published;
    totals.corrections += result.corrections;
    totals.rejected += result.rejected;
    totals.lowered += result.lowered;
    lastSuccessAt = clock.now().toISOString();
    lastError = null;
    return result;
  };

  const pollOnce = async (signal: AbortSignal = controller.signal): Promise<PollResult> => {
    try {
      return await poll(signal);
    } catch (err) {
      if (!signal.aborted) {
        lastError = {
          at: clock.now().toISOString(),
          code: isBurnrateError(err) ? err.code : 'INTERNAL',
          message: err instanceof Error ? err.message : String(err),
        };
      }
      throw err;
    }
  };

  const run = async (): Promise<void> => {
    const signal = controller.signal;
    while (!signal.aborted) {
      let wait = options.intervalMs;
      try {
        const result = await pollOnce(signal);
        if (result.published > 0 || result.rejected > 0) log.info(result, 'poll published');
      } catch (err) {
        if (signal.aborted) return;
        // A provider that asked for a longer pause than a poll waits out gets it, from here.
        if (isBurnrateError(err) && err.retryAfterMs !== undefined) wait = Math.max(wait, err.retryAfterMs);
        log.warn({ err, retryInMs: wait }, 'poll failed; the cursor stays where it was');
      }
      try {
        await sleep(wait, signal);
      } catch {
        return;
      }
    }
  };

  return {
    source: source.source,
    pollOnce,
    start: async () => {
      loop = run();
    },
    stop: async () => {
      controller.abort(new Error('poller stopped'));
      await loop;
    },
    health: () => {
      const cursor = state?.cursor ?? null;
      return {
        source: source.source,
        last_success_at: lastSuccessAt,
        cursor,
        lag_s: cursor === null ? null : Math.max(0, Math.round((clock.now().getTime() - Date.parse(cursor)) / 1000)),
        last_error: lastError,
        ...totals,
      };
    },
  };
}
