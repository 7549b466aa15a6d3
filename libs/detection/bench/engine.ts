// Detector throughput on the pure path, as a ratio to plain JSON.parse of the same events measured
// in the same run (machines are shared and noisy; absolute figures mislead). Target: >= 300k events/s.
import { createDetectionEngine } from '@burnrate/detection';
import { UsageEvent } from '@burnrate/schemas';

const N = Number(process.argv[2] ?? 500_000);
const base = Date.parse('2026-11-25T10:00:00Z');
const events = Array.from({ length: N }, (_, i) => {
  const at = new Date(base + i * 100).toISOString();
  return UsageEvent.parse({
    event_id: `evt-${i}`,
    source: 'claude_code_otel',
    provider: 'anthropic',
    tool: 'claude-code',
    granularity: 'request',
    occurred_at: at,
    ingested_at: at,
    org: 'acme',
    developer: `dev${i % 500}@acme.com`,
    team: 'payments',
    session_id: `s-${i % 5000}`,
    model: 'claude-opus-4-5',
    model_family: 'claude-opus',
    tier: 'premium',
    is_batch: false,
    requests: 1,
    input_tokens: 1000,
    output_tokens: 100,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    cost_usd: 0.05,
    cost_source: 'reported',
    attributes: {},
  });
});
const texts = events.map((e) => JSON.stringify(e));

let t = performance.now();
for (const s of texts) JSON.parse(s);
const parseRate = N / ((performance.now() - t) / 1000);

const engine = createDetectionEngine(() => ({
  session_cost: { thresholdsFor: () => ({ warning_usd: 25, critical_usd: 100 }), timeZoneFor: () => 'UTC' },
}));
t = performance.now();
let anomalies = 0;
for (const e of events) anomalies += engine.process(e).anomalies.length;
const rate = N / ((performance.now() - t) / 1000);

t = performance.now();
const snapshot = JSON.stringify(engine.snapshot());
const snapshotMs = performance.now() - t;
const stats = engine.stats();

console.log(
  JSON.stringify(
    {
      events: N,
      detector_events_per_s: Math.round(rate),
      ratio_to_json_parse: Number((rate / parseRate).toFixed(2)),
      anomalies,
      tracked_sessions: stats.keys.session_cost,
      snapshot_bytes: snapshot.length,
      snapshot_bytes_per_session: Math.round(snapshot.length / (stats.keys.session_cost ?? 1)),
      snapshot_ms: Math.round(snapshotMs),
    },
    null,
    2,
  ),
);
