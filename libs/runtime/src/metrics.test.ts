import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('createMetrics', () => {
  it('sums the readers of one metric label set by label set, read afresh at each scrape', async () => {
    const metrics = createMetrics();
    let ingest = 2;
    const spec = { name: 'burnrate_test_dlq_records_total', help: 'Dead letters.', labelNames: ['source', 'reason'] as const };
    metrics.counter({ ...spec, read: () => [{ labels: { source: 'http_events', reason: 'invalid_record' }, value: ingest }] });
    metrics.counter({
      ...spec,
      read: () => [
        { labels: { source: 'http_events', reason: 'invalid_record' }, value: 1 },
        { labels: { source: 'topic:anomalies.v1', reason: 'invalid_message' }, value: 4 },
      ],
    });
    const text = await metrics.text();
    expect(text).toContain('burnrate_test_dlq_records_total{source="http_events",reason="invalid_record"} 3');
    expect(text).toContain('burnrate_test_dlq_records_total{source="topic:anomalies.v1",reason="invalid_message"} 4');
    ingest = 5;
    expect(await metrics.text()).toContain('burnrate_test_dlq_records_total{source="http_events",reason="invalid_record"} 6');
  });

  it('refuses one name as a counter and a gauge', () => {
    const metrics = createMetrics();
    metrics.gauge({ name: 'burnrate_test_keys', help: 'Keys.', labelNames: [], read: () => [] });
    expect(() => metrics.counter({ name: 'burnrate_test_keys', help: 'Keys.', labelNames: [], read: () => [] })).toThrow(
      /burnrate_test_keys is registered as a gauge already/,
    );
  });
});
