import type { BatchContext, ConsumedMessage, OutgoingMessage, Producer } from '@burnrate/bus';
import { BurnrateError, createLogger, fixedClock, fixedConfig, parseConfig } from '@burnrate/core';
import { Anomaly, type BackfillWindow, TOPICS, type UsageEvent } from '@burnrate/schemas';
import { createMemoryStore } from '@burnrate/store';
import { usageEvent } from '@burnrate/testing/builders';
import { beforeEach, describe, expect, it } from 'vitest';
import { type BackfillRunner, createBackfillRunner } from './backfill-runner.ts';

const config = parseConfig(`
org: acme
teams:
  - id: payments
    members: [alice@acme.com, bob@acme.com]
detectors:
  backfill: { quiet: 30s, max_wait: 10m, warmup: 1d }
`);

const log = createLogger({ level: 'silent' });
const NOW = Date.parse('2026-11-27T14:00:00Z');
const MONTH_AGO = NOW - 30 * 86_400_000;

/** A session of alice's a month ago, a call a minute costing `costs`: $150 in all crosses the $100 critical cap. */
function oldSession(session: string, costs: number[], developer = 'alice@acme.com'): UsageEvent[] {
  return costs.map((cost_usd, i) => {
    const occurred_at = new Date(MONTH_AGO + i * 60_000).toISOString();
    return usageEvent({
      event_id: `${session}-${i}`,
      occurred_at,
      ingested_at: new Date(NOW).toISOString(),
      developer,
      developer_email: developer,
      session_id: session,
      cost_usd,
    });
  });
}

/** The usage.backfill.v1 message stage A sends for these late events. */
function windowOf(events: readonly UsageEvent[]): BackfillWindow {
  const last = events.at(-1) as UsageEvent;
  return {
    org: 'acme',
    from: (events[0] as UsageEvent).occurred_at,
    to: last.occurred_at,
    events: events.length,
    source: 'usage.events.v1:0',
    last_event: { event_id: last.event_id, occurred_at: last.occurred_at },
    watermark: new Date(NOW).toISOString(),
  };
}

describe('the backfill runner', () => {
  let store: ReturnType<typeof createMemoryStore>;
  let clock: ReturnType<typeof fixedClock>;
  let published: Anomaly[];
  let commits: string[];
  let runner: BackfillRunner;
  let offset: number;

  const producer: Producer = {
    async send(topic: string, messages: readonly OutgoingMessage[]) {
      expect(topic).toBe(TOPICS.anomalies.name);
      for (const m of messages) published.push(Anomaly.parse(JSON.parse(m.value)));
    },
  };
  const ctx: BatchContext = {
    commit: async (o) => void commits.push(o),
    signal: new AbortController().signal,
  };

  /** Stage A's message for these events, as the bus hands it over. */
  async function announce(events: readonly UsageEvent[]): Promise<void> {
    const message: ConsumedMessage = {
      topic: TOPICS.usageBackfill.name,
      partition: 0,
      offset: String(offset++),
      key: 'acme',
      value: JSON.stringify(windowOf(events)),
      headers: {},
      timestamp: clock.now().getTime(),
    };
    await runner.subscribeOptions.handleBatch(
      { topic: message.topic, partition: 0, messages: [message], highWatermark: String(offset) },
      ctx,
    );
  }

  beforeEach(() => {
    store = createMemoryStore();
    clock = fixedClock(new Date(NOW));
    published = [];
    commits = [];
    offset = 0;
    runner = createBackfillRunner({ config: fixedConfig(config), store, producer, log, clock, checkEveryMs: 0 });
  });

  it('judges a quiet window over the stored events and publishes what it finds as historical, then commits it', async () => {
    const costly = oldSession('s-costly', [30, 30, 30, 30, 30]);
    const cheap = oldSession('s-cheap', [1, 1, 1], 'bob@acme.com');
    await store.insertUsageEvents([...costly, ...cheap]);
    await announce(costly);
    await announce(cheap);
    expect(runner.status()).toMatchObject({ pending_windows: 1, judged_windows: 0 });
    expect(await runner.judgeDue()).toBe(0);
    expect(commits).toEqual([]);

    clock.advance(30_000);
    expect(await runner.judgeDue()).toBe(1);
    expect(published.length).toBeGreaterThan(0);
    expect(published.every((a) => a.historical === true)).toBe(true);
    expect(published.map((a) => [a.kind, a.subject.session, a.severity])).toContainEqual(['session_cost', 's-costly', 'critical']);
    expect(published.some((a) => a.subject.session === 's-cheap')).toBe(false);
    expect(commits).toEqual(['1']);
    expect(runner.status()).toMatchObject({
      pending_windows: 0,
      judged_windows: 1,
      late_events: 8,
      replayed_events: 8,
      failures: 0,
      last_judged: {
        org: 'acme',
        from: costly[0]?.occurred_at,
        late_events: 8,
        historical_anomalies: new Set(published.map((a) => a.id)).size,
      },
    });
  });

  it('replays detectors.backfill.warmup of stored history before the window, and a day after it', async () => {
    const costly = oldSession('s-costly', [30, 30, 30, 30, 30]);
    const shifted = (hours: number, id: string): UsageEvent =>
      usageEvent({ event_id: id, occurred_at: new Date(MONTH_AGO + hours * 3_600_000).toISOString(), session_id: id, cost_usd: 0.1 });
    // The warmup is 1d: 12 h before is replayed, 36 h before is not; 20 h after is, 30 h after is not.
    await store.insertUsageEvents([
      ...costly,
      shifted(-12, 'warm'),
      shifted(-36, 'too-early'),
      shifted(20, 'after'),
      shifted(30, 'too-late'),
    ]);
    await announce(costly);
    clock.advance(30_000);
    await runner.judgeDue();
    expect(runner.status()).toMatchObject({ late_events: 5, replayed_events: 7 });
  });

  it('publishes nothing twice when the same late events are judged again', async () => {
    const costly = oldSession('s-costly', [30, 30, 30, 30, 30]);
    await store.insertUsageEvents(costly);
    await announce(costly);
    clock.advance(30_000);
    await runner.judgeDue();
    const first = published.length;
    expect(first).toBeGreaterThan(0);
    // The sink stored them; an import posted again (after the dedupe window) announces them again.
    await store.insertAnomalies(published);
    await announce(costly);
    clock.advance(30_000);
    expect(await runner.judgeDue()).toBe(1);
    expect(published).toHaveLength(first);
    expect(runner.status()).toMatchObject({ judged_windows: 2, historical_anomalies: new Set(published.map((a) => a.id)).size });
  });

  it('reports nothing live detection raised itself', async () => {
    const costly = oldSession('s-costly', [30, 30, 30, 30, 30]);
    await store.insertUsageEvents(costly);
    await announce(costly);
    clock.advance(30_000);
    await runner.judgeDue();
    // Had live detection judged the session, its anomalies would be stored without the mark.
    const live = published.map(({ historical: _historical, ...a }) => a);
    await store.insertAnomalies(live);
    published = [];
    await announce(costly);
    clock.advance(30_000);
    await runner.judgeDue();
    expect(published).toEqual([]);
    expect(runner.status().already_live).toBe(new Set(live.map((a) => a.id)).size);
  });

  it('waits for the store to hold the late events before judging them', async () => {
    const costly = oldSession('s-costly', [30, 30, 30, 30, 30]);
    await store.insertUsageEvents(costly.slice(0, 3));
    await announce(costly);
    clock.advance(30_000);
    expect(await runner.judgeDue()).toBe(0);
    expect(runner.status().pending_windows).toBe(1);
    expect(commits).toEqual([]);
    await store.insertUsageEvents(costly.slice(3));
    clock.advance(1_000);
    expect(await runner.judgeDue()).toBe(1);
    expect(published.some((a) => a.severity === 'critical')).toBe(true);
    expect(commits).toEqual(['0']);
  });

  it('counts a failed judgement, keeps the window uncommitted and tries again after the quiet period', async () => {
    const costly = oldSession('s-costly', [30, 30, 30, 30, 30]);
    await store.insertUsageEvents(costly);
    const listAnomalies = store.listAnomalies.bind(store);
    let failures = 1;
    store.listAnomalies = async (query) => {
      if (failures-- > 0) throw new BurnrateError('STORE_UNAVAILABLE', 'connection refused');
      return listAnomalies(query);
    };
    await announce(costly);
    clock.advance(30_000);
    expect(await runner.judgeDue()).toBe(0);
    expect(runner.status()).toMatchObject({
      pending_windows: 1,
      failures: 1,
      failing: true,
      last_error: { at: clock.now().toISOString(), message: 'connection refused' },
    });
    expect(published).toEqual([]);
    expect(commits).toEqual([]);
    clock.advance(29_999);
    expect(await runner.judgeDue()).toBe(0);
    clock.advance(1);
    expect(await runner.judgeDue()).toBe(1);
    expect(commits).toEqual(['0']);
    expect(runner.status()).toMatchObject({ failures: 1, failing: false });
  });
});
