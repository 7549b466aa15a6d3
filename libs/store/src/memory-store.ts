import { BurnrateError } from '@burnrate/core';
import { type Anomaly, type AnomalyState, compareDecisions, type DlqRecord, type Silence, type UsageEvent } from '@burnrate/schemas';
import {
  type DeliveryRecord,
  type DetectorSnapshot,
  MAX_SNAPSHOT_PART_BYTES,
  type OutboxEntry,
  SPEND_DIMENSIONS,
  type SpendFilter,
  type SpendReportRow,
  type SpendRow,
  type SpendTopRow,
  type SpendTotals,
  type Store,
} from './port.ts';
import { ANOMALIES_TABLE } from './tables/anomalies.ts';
import { zeroTotals } from './spend-totals.ts';
import {
  chooseReports,
  correctionsSourceQuery,
  reconcile,
  reportKey,
  roundToMicroUsd,
  type SourceDay,
  spendCorrections,
} from './tables/reconciliation.ts';
import { ANOMALY_STATE_TABLE } from './tables/anomaly-state.ts';
import { DELIVERIES_TABLE } from './tables/deliveries.ts';
import { OUTBOX_TABLE } from './tables/outbox.ts';
import { SNAPSHOT_PARTS_TABLE } from './tables/detector-snapshots.ts';
import { storableDlqRecord } from './tables/dlq.ts';
import type { DlqReplay } from './tables/dlq-replays.ts';
import { SILENCES_TABLE } from './tables/silences.ts';
import { USAGE_EVENTS_TABLE } from './tables/usage-events.ts';

/**
 * The Store in memory, for other packages' unit tests. It keeps the adapters' semantics: an
 * event_id counts once with its latest ingested version, the highest anomaly version wins, the
 * latest delivery per (anomaly, version, receiver) and snapshot per key win, and results come
 * back in the same order. Values are copied in and out, as a database would. It refuses what
 * ClickHouse refuses on insert, a string holding a lone high UTF-16 surrogate, with the same
 * non-retriable error and the whole call left unwritten; DLQ records are repaired first, as the
 * adapters do, so a dead letter is always storable.
 */
export function createMemoryStore(): Store {
  const events = new Map<string, UsageEvent>();
  const dlq = new Map<string, DlqRecord>();
  const dlqReplays: DlqReplay[] = [];
  const anomalies = new Map<string, Map<number, Anomaly>>();
  // Every decision by its whole identity (the table's key), so a redelivered one collapses.
  const states = new Map<string, AnomalyState>();
  const outbox = new Map<string, OutboxEntry>();
  const deliveries = new Map<string, DeliveryRecord>();
  // The latest write per id, as ReplacingMergeTree(written_at) keeps it.
  const silences = new Map<string, Silence>();
  const snapshots = new Map<string, DetectorSnapshot>();
  let closed = false;

  const open = (): void => {
    if (closed) throw new BurnrateError('SHUTTING_DOWN', 'store is closed');
  };
  const copy = <T>(value: T): T => structuredClone(value);
  const ms = (iso: string): number => Date.parse(iso);
  /** Spend per UTC day, org, team, provider and source, live or reported (as the SQL store's reconciliation reads it). */
  const sourceDays = (query: { from?: string; to?: string; org?: string }): SourceDay[] => {
    const from = query.from === undefined ? -Infinity : ms(query.from);
    const to = query.to === undefined ? Infinity : ms(query.to);
    const days = new Map<string, SourceDay>();
    for (const e of events.values()) {
      const at = ms(e.occurred_at);
      if (at < from || at >= to || (query.org !== undefined && e.org !== query.org)) continue;
      const live = e.granularity === 'request';
      const day = e.occurred_at.slice(0, 10);
      const key = JSON.stringify([day, e.org, e.team, e.provider, e.source, live]);
      const d = days.get(key) ?? { day, org: e.org, team: e.team, provider: e.provider, source: e.source, live, cost_usd: 0, events: 0 };
      d.cost_usd += e.cost_usd;
      d.events += 1;
      days.set(key, d);
    }
    return [...days.values()];
  };
  const latestVersion = (versions: Map<number, Anomaly>): Anomaly | undefined => {
    let best: Anomaly | undefined;
    for (const a of versions.values()) if (!best || a.version > best.version) best = a;
    return best;
  };

  /** The events of [from, to) by their hour, as the adapters bound a range (on the hour, not the instant). */
  const inRange = (query: { org?: string | undefined; from: string; to: string; filter?: SpendFilter | undefined }): UsageEvent[] => {
    const from = ms(query.from);
    const to = ms(query.to);
    return [...events.values()].filter((e) => {
      const hour = Math.floor(ms(e.occurred_at) / 3_600_000) * 3_600_000;
      if (hour < from || hour >= to) return false;
      if (query.org !== undefined && e.org !== query.org) return false;
      return SPEND_DIMENSIONS.every((d) => query.filter?.[d] === undefined || e[d] === query.filter[d]);
    });
  };
  /** What counts, by reconciliation's rule, the report chosen over each whole UTC day the range touches. */
  const countedEvents = (query: { org?: string | undefined; from: string; to: string; filter?: SpendFilter | undefined }): UsageEvent[] => {
    const day = 86_400_000;
    const first = Math.floor(ms(query.from) / day) * day;
    const last = Math.max(Math.ceil(ms(query.to) / day) * day, first + day);
    const present = [...events.values()].filter(
      (e) =>
        e.granularity !== 'request' &&
        (query.org === undefined || e.org === query.org) &&
        ms(e.occurred_at) >= first &&
        ms(e.occurred_at) < last,
    );
    const chosen = chooseReports(
      present.map((e) => ({ day: e.occurred_at.slice(0, 10), org: e.org, provider: e.provider, source: e.source })),
    );
    return inRange(query).filter((e) => {
      const report = chosen.get(reportKey(e.occurred_at.slice(0, 10), e.org, e.provider));
      return report === undefined ? e.granularity === 'request' : e.source === report;
    });
  };

  return {
    async migrate() {
      open();
    },

    async insertUsageEvents(batch) {
      open();
      refuseLoneSurrogates(USAGE_EVENTS_TABLE, batch);
      for (const e of batch) {
        // Keyed like the table's ORDER BY (org, event_id): the same id in two orgs is two events.
        const key = `${e.org}\u0000${e.event_id}`;
        const existing = events.get(key);
        // ReplacingMergeTree(ingested_at): a later ingest replaces; on a tie the last insert wins.
        if (!existing || ms(e.ingested_at) >= ms(existing.ingested_at)) events.set(key, copy(e));
      }
    },
    async countUsageEvents(filter = {}) {
      open();
      let n = 0;
      for (const e of events.values()) {
        if (filter.org !== undefined && e.org !== filter.org) continue;
        if (filter.session_id !== undefined && e.session_id !== filter.session_id) continue;
        n += 1;
      }
      return n;
    },
    async listUsageEvents(filter) {
      open();
      const from = filter.from === undefined ? -Infinity : ms(filter.from);
      const to = filter.to === undefined ? Infinity : ms(filter.to);
      const after = filter.after;
      const afterAt = after === undefined ? -Infinity : ms(after.occurred_at);
      return [...events.values()]
        .filter((e) => {
          const at = ms(e.occurred_at);
          if (filter.org !== undefined && e.org !== filter.org) return false;
          if (at < from || at >= to) return false;
          if (after !== undefined && (at < afterAt || (at === afterAt && e.event_id <= after.event_id))) return false;
          return true;
        })
        .sort((a, b) => ms(a.occurred_at) - ms(b.occurred_at) || compare(a.event_id, b.event_id))
        .slice(0, filter.limit ?? 100_000)
        .map(copy);
    },
    async listAcceptedEventIds(query) {
      open();
      const since = ms(query.since);
      const after = query.after ?? '';
      return [...events.values()]
        .filter((e) => e.org === query.org && ms(e.ingested_at) >= since && compare(e.event_id, after) > 0)
        .sort((a, b) => compare(a.event_id, b.event_id))
        .slice(0, query.limit)
        .map((e) => ({ event_id: e.event_id, fingerprint: e.fingerprint ?? '', ingested_at: e.ingested_at }));
    },
    async spendByHour(filter) {
      open();
      const from = filter.from === undefined ? -Infinity : ms(filter.from);
      const to = filter.to === undefined ? Infinity : ms(filter.to);
      const groups = new Map<string, SpendRow>();
      for (const e of events.values()) {
        const hourMs = Math.floor(ms(e.occurred_at) / 3_600_000) * 3_600_000;
        if (hourMs < from || hourMs >= to) continue;
        if (filter.org !== undefined && e.org !== filter.org) continue;
        if (filter.team !== undefined && e.team !== filter.team) continue;
        const hour = new Date(hourMs).toISOString();
        const key = JSON.stringify([hour, e.org, e.team, e.developer, e.model, e.tool]);
        const row = groups.get(key) ?? {
          hour,
          org: e.org,
          team: e.team,
          developer: e.developer,
          model: e.model,
          tool: e.tool,
          cost_usd: 0,
          events: 0,
          input_tokens: 0,
          output_tokens: 0,
          cache_read_tokens: 0,
          cache_write_tokens: 0,
        };
        row.cost_usd += e.cost_usd;
        row.events += 1;
        row.input_tokens += e.input_tokens;
        row.output_tokens += e.output_tokens;
        row.cache_read_tokens += e.cache_read_tokens;
        row.cache_write_tokens += e.cache_write_tokens;
        groups.set(key, row);
      }
      return [...groups.values()].sort(
        (a, b) =>
          compare(a.hour, b.hour) ||
          compare(a.org, b.org) ||
          compare(a.team, b.team) ||
          compare(a.developer, b.developer) ||
          compare(a.model, b.model) ||
          compare(a.tool, b.tool),
      );
    },
    async reconciliation(query) {
      open();
      return reconcile(sourceDays(query), query.team);
    },
    async spendCorrections(query) {
      open();
      return spendCorrections(sourceDays(correctionsSourceQuery(query)), query.from.slice(0, 10));
    },

    async spend(query) {
      open();
      const groups = new Map<string, SpendReportRow>();
      const dims = [...new Set(query.group_by)];
      for (const e of countedEvents(query)) {
        const period = periodOf(e.occurred_at, query.granularity);
        const key = JSON.stringify([period, ...dims.map((d) => e[d])]);
        let row = groups.get(key);
        if (row === undefined) {
          row = { period, ...zeroTotals() };
          for (const d of dims) row[d] = e[d];
          groups.set(key, row);
        }
        addTotals(row, e);
      }
      const rows = [...groups.values()].sort(
        (a, b) => compare(a.period, b.period) || dims.reduce((c, d) => c || compare(a[d] ?? '', b[d] ?? ''), 0),
      );
      for (const r of rows) r.cost_usd = roundToMicroUsd(r.cost_usd);
      return rows.slice(0, query.limit ?? 100_000);
    },
    async spendTop(query) {
      open();
      const chosen =
        query.by === 'session'
          ? inRange(query).filter((e) => e.granularity === 'request' && e.session_id !== undefined && e.session_id !== '')
          : countedEvents(query);
      const groups = new Map<string, SpendTopRow>();
      for (const e of chosen) {
        const key = query.by === 'session' ? (e.session_id as string) : e.developer;
        const hour = periodOf(e.occurred_at, 'hour');
        let row = groups.get(key);
        if (row === undefined) {
          row = { key, developer: e.developer, teams: [], models: [], tools: [], first_hour: hour, last_hour: hour, ...zeroTotals() };
          groups.set(key, row);
        }
        if (compare(e.developer, row.developer) < 0) row.developer = e.developer;
        for (const [list, value] of [
          [row.teams, e.team],
          [row.models, e.model],
          [row.tools, e.tool],
        ] as const)
          if (!list.includes(value)) list.push(value);
        if (hour < row.first_hour) row.first_hour = hour;
        if (hour > row.last_hour) row.last_hour = hour;
        addTotals(row, e);
      }
      const rows = [...groups.values()];
      for (const r of rows) {
        r.cost_usd = roundToMicroUsd(r.cost_usd);
        r.teams.sort();
        r.models.sort();
        r.tools.sort();
      }
      return rows.sort((a, b) => b.cost_usd - a.cost_usd || compare(a.key, b.key)).slice(0, query.limit ?? 10);
    },
    async refreshSpendRollup() {
      open();
      // Nothing to roll up: every read sums the events themselves.
      return 0;
    },

    async insertDlq(records) {
      open();
      for (const record of records) {
        const r = storableDlqRecord(record);
        dlq.set(r.dlq_id, copy(r));
      }
    },
    async listDlq(filter = {}) {
      open();
      return [...dlq.values()]
        .filter((r) => filter.source === undefined || r.source === filter.source)
        .filter((r) => filter.ids === undefined || filter.ids.includes(r.dlq_id))
        .filter((r) => filter.reason === undefined || r.reason.toLowerCase().includes(filter.reason.toLowerCase()))
        .filter((r) => filter.since === undefined || ms(r.received_at) >= ms(filter.since))
        .filter((r) => {
          const after = filter.after;
          if (after === undefined) return true;
          const at = ms(r.received_at) - ms(after.received_at);
          return at < 0 || (at === 0 && compare(r.dlq_id, after.dlq_id) > 0);
        })
        .sort((a, b) => ms(b.received_at) - ms(a.received_at) || compare(a.dlq_id, b.dlq_id))
        .slice(0, filter.limit ?? 100)
        .map(copy);
    },
    async insertDlqReplays(replays) {
      open();
      for (const r of replays) dlqReplays.push(copy(r));
    },
    async firstDlqReplays(ids) {
      open();
      const first = new Map<string, DlqReplay>();
      for (const r of dlqReplays) {
        if (!ids.includes(r.dlq_id)) continue;
        const known = first.get(r.dlq_id);
        if (known === undefined || ms(r.replayed_at) < ms(known.replayed_at)) first.set(r.dlq_id, copy(r));
      }
      return first;
    },

    async insertAnomalies(batch) {
      open();
      refuseLoneSurrogates(ANOMALIES_TABLE, batch);
      for (const a of batch) {
        const versions = anomalies.get(a.id) ?? new Map<number, Anomaly>();
        versions.set(a.version, copy(a));
        anomalies.set(a.id, versions);
      }
    },
    async listAnomalies(query = {}) {
      open();
      const latest: Anomaly[] = [];
      for (const versions of anomalies.values()) {
        const a = latestVersion(versions);
        if (!a) continue;
        if (query.status !== undefined && a.status !== query.status) continue;
        if (query.team !== undefined && a.subject.team !== query.team) continue;
        if (query.kind !== undefined && a.kind !== query.kind) continue;
        if (query.historical !== undefined && (a.historical === true) !== query.historical) continue;
        if (query.since !== undefined && ms(a.detected_at) < ms(query.since)) continue;
        const after = query.after;
        if (after !== undefined) {
          const at = ms(a.detected_at);
          const afterAt = ms(after.detected_at);
          if (at > afterAt || (at === afterAt && compare(a.id, after.id) <= 0)) continue;
        }
        latest.push(a);
      }
      return latest
        .sort((a, b) => ms(b.detected_at) - ms(a.detected_at) || compare(a.id, b.id))
        .slice(0, query.limit ?? 100)
        .map(copy);
    },
    async getAnomaly(id) {
      open();
      const versions = anomalies.get(id);
      const a = versions && latestVersion(versions);
      return a && copy(a);
    },
    async anomalyVersions(id) {
      open();
      return [...(anomalies.get(id)?.values() ?? [])].sort((a, b) => a.version - b.version).map(copy);
    },
    async firstDetectedAt(ids) {
      open();
      const first = new Map<string, string>();
      for (const id of ids) {
        const versions = [...(anomalies.get(id)?.values() ?? [])].sort((a, b) => a.version - b.version);
        if (versions[0]) first.set(id, versions[0].detected_at);
      }
      return first;
    },

    async insertAnomalyStates(batch) {
      open();
      refuseLoneSurrogates(ANOMALY_STATE_TABLE, batch);
      for (const s of batch) states.set(JSON.stringify([s.anomaly_id, Date.parse(s.at), s.action, s.by, s.channel]), copy(s));
    },
    async latestAnomalyStates(ids) {
      open();
      const wanted = new Set(ids);
      const result = new Map<string, AnomalyState>();
      for (const s of [...states.values()].sort(compareDecisions)) if (wanted.has(s.anomaly_id)) result.set(s.anomaly_id, copy(s));
      return result;
    },
    async listAnomalyStates(filter) {
      open();
      return [...states.values()]
        .filter((s) => filter.anomaly_id === undefined || s.anomaly_id === filter.anomaly_id)
        .filter((s) => filter.anomaly_ids === undefined || filter.anomaly_ids.includes(s.anomaly_id))
        .filter((s) => filter.since === undefined || ms(s.at) >= ms(filter.since))
        .sort((a, b) => compareDecisions(a, b) || compare(a.anomaly_id, b.anomaly_id))
        .slice(0, filter.limit ?? 100_000)
        .map(copy);
    },

    async insertDeliveries(records) {
      open();
      refuseLoneSurrogates(DELIVERIES_TABLE, records);
      for (const d of records) {
        const key = JSON.stringify([d.anomaly_id, d.version, d.receiver]);
        const existing = deliveries.get(key);
        // ReplacingMergeTree(at): a later attempt replaces; on a tie the last insert wins.
        if (!existing || ms(d.at) >= ms(existing.at)) deliveries.set(key, copy(d));
      }
    },
    async listDeliveries(filter) {
      open();
      return [...deliveries.values()]
        .filter((d) => filter.anomaly_id === undefined || d.anomaly_id === filter.anomaly_id)
        .filter((d) => filter.status === undefined || d.status === filter.status)
        .filter((d) => filter.detail === undefined || d.detail === filter.detail)
        .sort(
          (a, b) => ms(a.at) - ms(b.at) || compare(a.anomaly_id, b.anomaly_id) || a.version - b.version || compare(a.receiver, b.receiver),
        )
        .map(copy);
    },

    async upsertOutbox(entries) {
      open();
      refuseLoneSurrogates(OUTBOX_TABLE, entries);
      for (const e of entries) {
        const key = JSON.stringify([e.anomaly_id, e.version, e.receiver, e.purpose]);
        const existing = outbox.get(key);
        if (!existing || ms(e.updated_at) >= ms(existing.updated_at)) outbox.set(key, copy(e));
      }
    },
    async listOutbox(query) {
      open();
      return [...outbox.values()]
        .filter((e) => query.anomaly_id === undefined || e.anomaly_id === query.anomaly_id)
        .filter((e) => query.status === undefined || e.status === query.status)
        .filter((e) => query.due_by === undefined || ms(e.due_at) <= ms(query.due_by))
        .filter((e) => query.parts === undefined || query.parts.includes(e.part))
        .sort(
          (a, b) =>
            ms(a.due_at) - ms(b.due_at) ||
            compare(a.anomaly_id, b.anomaly_id) ||
            a.version - b.version ||
            compare(a.receiver, b.receiver) ||
            compare(a.purpose, b.purpose),
        )
        .slice(0, query.limit ?? 10_000)
        .map(copy);
    },

    async insertSilences(batch) {
      open();
      refuseLoneSurrogates(SILENCES_TABLE, batch);
      for (const s of batch) silences.set(s.id, copy(s));
    },
    async listSilences(filter = {}) {
      open();
      const at = filter.active_at === undefined ? undefined : ms(filter.active_at);
      return [...silences.values()]
        .filter((s) => at === undefined || (ms(s.starts_at) <= at && at < ms(s.ends_at)))
        .sort((a, b) => ms(b.created_at) - ms(a.created_at) || compare(a.id, b.id))
        .map(copy);
    },

    maxSnapshotPartBytes: MAX_SNAPSHOT_PART_BYTES,
    async saveSnapshot(snapshot) {
      open();
      refuseLoneSurrogates(SNAPSHOT_PARTS_TABLE, [snapshot]);
      if (snapshot.parts.length === 0) throw new BurnrateError('INPUT_INVALID', `detector snapshot ${snapshot.key} has no parts`);
      snapshot.parts.forEach((part, i) => {
        const size = Buffer.byteLength(part);
        if (size > MAX_SNAPSHOT_PART_BYTES) {
          throw new BurnrateError(
            'INPUT_TOO_LARGE',
            `detector snapshot ${snapshot.key}: part ${i} is ${size} bytes, more than the ${MAX_SNAPSHOT_PART_BYTES} a row takes`,
          );
        }
      });
      const existing = snapshots.get(snapshot.key);
      if (!existing || ms(snapshot.saved_at) >= ms(existing.saved_at)) snapshots.set(snapshot.key, copy(snapshot));
    },
    async loadSnapshot(key) {
      open();
      const s = snapshots.get(key);
      if (s === undefined) return undefined;
      const parts = [...s.parts];
      return {
        key: s.key,
        offset: s.offset,
        saved_at: s.saved_at,
        partCount: parts.length,
        parts: async function* () {
          open();
          yield* parts;
        },
      };
    },

    async close() {
      closed = true;
    },
  };
}

// A high surrogate not followed by a low one: what ClickHouse's JSON input rejects ("missing
// second part of surrogate pair"). A lone low surrogate it accepts, so it is accepted here too.
const LONE_HIGH_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/;

/** Throws what the adapters throw for the first row ClickHouse would not parse; rows are 1-based as in its message. */
function refuseLoneSurrogates(table: string, rows: readonly object[]): void {
  rows.forEach((row, i) => {
    for (const [key, value] of Object.entries(row)) {
      if (!hasLoneHighSurrogate(key) && !hasLoneHighSurrogate(value)) continue;
      throw new BurnrateError(
        'STORE_QUERY_FAILED',
        `memory insert into ${table}: Code: 25. Cannot parse escape sequence: missing second part of surrogate pair (while reading the value of key ${key}): (at row ${i + 1}) (CANNOT_PARSE_ESCAPE_SEQUENCE)`,
        { details: { clickhouseCode: 25 } },
      );
    }
  });
}

function hasLoneHighSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_HIGH_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneHighSurrogate);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => LONE_HIGH_SURROGATE.test(k) || hasLoneHighSurrogate(v));
  }
  return false;
}

/** Byte order for ASCII, which is what ClickHouse's ORDER BY on String gives. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addTotals(t: SpendTotals, e: UsageEvent): void {
  t.cost_usd += e.cost_usd;
  t.events += 1;
  t.requests += e.requests;
  t.input_tokens += e.input_tokens;
  t.output_tokens += e.output_tokens;
  t.cache_read_tokens += e.cache_read_tokens;
  t.cache_write_tokens += e.cache_write_tokens;
}

/** The start of the UTC hour, day or month an instant falls in. */
function periodOf(iso: string, granularity: 'hour' | 'day' | 'month'): string {
  const d = new Date(iso);
  if (granularity === 'month') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
  const size = granularity === 'day' ? 86_400_000 : 3_600_000;
  return new Date(Math.floor(d.getTime() / size) * size).toISOString();
}
