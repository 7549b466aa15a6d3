import type { Metrics } from '@burnrate/runtime';
import type { IngestGate } from './auth.ts';
import type { IngestTally } from './ingest-tally.ts';
import type { EventLedger } from './ledger.ts';

/** Ingest's part of /metrics, read from the tally, the gate and the ledger every receiver shares. */
export function registerIngestMetrics(metrics: Metrics, parts: { tally: IngestTally; gate: IngestGate; ledger: EventLedger }): void {
  metrics.counter({
    name: 'burnrate_ingest_records_total',
    help: 'Records ingest was given, by source and outcome: accepted (published), duplicate (a resend), rejected (invalid, dead-lettered), conflict (an event_id reused with other content).',
    labelNames: ['source', 'outcome'],
    read: () => parts.tally.counts().events.map((e) => ({ labels: { source: e.source, outcome: e.outcome }, value: e.count })),
  });
  metrics.counter({
    name: 'burnrate_dlq_records_total',
    help: 'Records dead-lettered, by source, reason (invalid_record, conflict, invalid_message, store_refused) and the field the first problem names.',
    labelNames: ['source', 'reason', 'field'],
    read: () =>
      parts.tally.counts().deadLetters.map((d) => ({ labels: { source: d.source, reason: d.reason, field: d.field }, value: d.count })),
  });
  metrics.counter({
    name: 'burnrate_ingest_refused_requests_total',
    help: 'Ingest requests refused before any record was read, by reason (missing_key, unknown_key, revoked_key, expired_key, over_claiming, rate_limited).',
    labelNames: ['reason'],
    read: () => Object.entries(parts.gate.stats().refused).map(([reason, value]) => ({ labels: { reason }, value })),
  });
  metrics.counter({
    name: 'burnrate_ingest_admitted_requests_total',
    help: 'Ingest requests let in, by the config source whose key they presented (open when ingest.auth is none).',
    labelNames: ['source'],
    read: () => Object.entries(parts.gate.stats().admitted).map(([source, value]) => ({ labels: { source }, value })),
  });
  metrics.gauge({
    name: 'burnrate_ingest_ledger_event_ids',
    help: 'Event ids the dedupe ledger holds (accepted within ingest.dedupe_window).',
    labelNames: [],
    read: () => [{ labels: {}, value: parts.ledger.stats().entries }],
  });
}
