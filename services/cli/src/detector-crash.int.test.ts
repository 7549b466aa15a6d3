import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '@burnrate/core';
import { replay } from '@burnrate/detector';
import type { Anomaly } from '@burnrate/schemas';
import { createChdbStore } from '@burnrate/store';
import { waitUntil } from '@burnrate/testing';
import { INGEST_AUTH } from '../test-support/burnrate-process.ts';
import { canRunDistributed, type DistributedStack, kill9, startDistributedStack, waitForNoLag } from '../test-support/distributed-stack.ts';
import { slackDeliveries, versionKeys } from '../test-support/deliveries.ts';

const POSTERS = 4;
const SESSIONS_PER_POSTER = 2;
const REQUESTS_PER_SESSION = 40;
const EVENTS_PER_REQUEST = 5;
// $15 a request, $600 a session: warning at $25, critical at $100, growth versions at $200 and $400.
const COST = 3;

// kill -9 the detector while ingest keeps accepting events, then start it again. The detector
// restores each partition from its snapshot and re-reads from the snapshot's offset: a redelivered
// event counted twice, or one skipped, moves the point where a session crosses a cap and so the
// observed cost of that anomaly version. Each session is posted by one poster in order, so its
// order on the partition is known and `replay` (the same detector code, in-process) gives exactly
// what a detector that never crashed would have emitted.
describe.skipIf(!canRunDistributed)('distributed mode: the detector survives kill -9', () => {
  let stack: DistributedStack;

  beforeAll(async () => {
    stack = await startDistributedStack();
    await Promise.all([stack.start('sink'), stack.start('notifier'), stack.start('detector'), stack.start('ingest')]);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('counts every event once, stores every acknowledged one and delivers no version twice', async () => {
    const ingestUrl = `http://127.0.0.1:${String(stack.services.get('ingest')!.ready.port)}`;
    const order = new Map<string, number>();
    const acked = new Set<string>();
    let sent = 0;
    let refused = 0;
    let seq = 0;

    const poster = async (p: number): Promise<void> => {
      for (let r = 0; r < REQUESTS_PER_SESSION * SESSIONS_PER_POSTER; r++) {
        const session = `crash-${p}-${r % SESSIONS_PER_POSTER}`;
        const records = Array.from({ length: EVENTS_PER_REQUEST }, () => {
          const n = seq++;
          const event_id = `dc-${n}`;
          order.set(event_id, n);
          return {
            event_id,
            occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + n * 100).toISOString(),
            developer_email: p % 2 === 0 ? 'alice@acme.com' : 'bob@acme.com',
            model: 'claude-opus-4-5',
            session_id: session,
            cost_usd: COST,
          };
        });
        sent += records.length;
        // Bounded retries: a session's order must stay the send order, so a refused request is
        // repeated before the next one goes out.
        for (let attempt = 0; attempt < 20; attempt++) {
          const res = await fetch(`${ingestUrl}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...INGEST_AUTH },
            body: JSON.stringify(records),
          });
          await res.arrayBuffer();
          if (res.status === 200) {
            for (const rec of records) acked.add(rec.event_id);
            break;
          }
          refused += 1;
          // A client's backoff before it resends, kept short so the session's order holds.
          await sleep(250);
        }
        // Paces the posters so the traffic spans the kill and the restart, not a burst before them:
        // about 10 s of traffic, while the first alert takes a few seconds through the outbox.
        await sleep(100);
      }
    };

    const posting = Promise.all(Array.from({ length: POSTERS }, (_, p) => poster(p)));
    // The first alert shows the detector at work; waiting for more would let the traffic end before
    // the kill (the notifier paces Slack to one message per second per channel).
    await waitUntil(() => stack.slack.messages.length >= 1 && acked.size >= 300, {
      timeoutMs: 30_000,
      message: 'traffic and first alerts before the kill',
    });
    await kill9(stack.services.get('detector')!);
    const ackedAtKill = acked.size;
    // Ingest does not depend on the detector: events go on being acknowledged while it is down.
    await waitUntil(() => acked.size >= ackedAtKill + 50, { timeoutMs: 15_000, message: 'events acknowledged with the detector down' });
    // The killed process's group members hold the groups until their session times out (30 s,
    // KafkaConsumerTuning.sessionTimeoutMs): the new members join when those expire.
    const restarted = await stack.start('detector', 'detector', 60_000);
    await posting;
    expect(acked.size).toBe(sent);
    expect(acked.size, 'events kept flowing while the detector was down').toBeGreaterThan(ackedAtKill);

    // Upstream first: an idle detector snapshots and commits once its output is on the bus, so
    // when its groups reach lag 0 everything it will emit is in anomalies.v1; then the notifier's
    // group at lag 0 has recorded every delivery (it commits after recording), and the sink's has
    // stored everything. Whether the detector counted every event once is what the anomalies below show.
    await waitForNoLag(
      stack.brokers,
      {
        'burnrate-detector': ['usage.events.v1'],
        'burnrate-team-detector': ['usage.rollups.v1'],
        'burnrate-notifier': ['anomalies.v1'],
        'burnrate-sink': ['usage.events.v1', 'anomalies.v1'],
      },
      60_000,
    );
    expect(restarted.logged('partition state loaded').some((l) => l.component === 'detector' && l.offset !== null)).toBe(true);
    expect(await stack.services.get('sink')!.stop()).toBe(0);

    const store = await createChdbStore({ dataDir: stack.sinkChdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const events = await store.listUsageEvents({ limit: 1_000_000 });
      const storedIds = new Set(events.map((e) => e.event_id));
      expect([...acked].filter((id) => !storedIds.has(id))).toEqual([]);
      expect(storedIds.size).toBe(acked.size);
      expect(await store.countUsageEvents()).toBe(storedIds.size);

      const expected = await replay(
        events.toSorted((a, b) => order.get(a.event_id)! - order.get(b.event_id)!),
        await loadConfig(stack.configPath),
      );
      const summary = (a: Anomaly) => `${a.subject.session ?? '?'} ${a.id}@${a.version} ${a.severity} observed ${a.observed.value}`;
      const want = expected.anomalies
        .filter((a) => a.kind === 'session_cost')
        .map(summary)
        .sort();
      const stored: Anomaly[] = [];
      for (const a of await store.listAnomalies({ kind: 'session_cost', limit: 1000 })) stored.push(...(await store.anomalyVersions(a.id)));
      expect(stored.map(summary).sort()).toEqual(want);
      expect(want.length).toBe(POSTERS * SESSIONS_PER_POSTER * 4);

      const slack = slackDeliveries(stack.slack);
      expect(new Set(slack).size, 'a Slack message per anomaly version at most').toBe(slack.length);
      const emails = stack.smtp.messages.map((m) => m.messageId);
      expect(new Set(emails).size, 'an email per Message-ID').toBe(emails.length);
      const storedKeys = new Set(versionKeys(stored));
      expect(slack.filter((k) => !storedKeys.has(k))).toEqual([]);
      expect(slack.length).toBeGreaterThanOrEqual(2);

      console.log(
        `detector crash: sent ${sent}, acknowledged ${acked.size} (${ackedAtKill} before the kill, ${refused} refused attempts), ` +
          `stored ${storedIds.size}, anomalies ${new Set(stored.map((a) => a.id)).size}, versions ${stored.length}, ` +
          `deliveries ${slack.length} Slack + ${emails.length} email`,
      );
    } finally {
      await store.close();
    }
  });
});
