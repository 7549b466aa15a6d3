import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { type SlackStandIn, type TestSmtpServer, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  INGEST_AUTH,
  startBurnrate,
  startSurroundings,
  type Surroundings,
  waitForCaughtUp,
} from '../test-support/burnrate-process.ts';

const SESSIONS = 6;
const EVENTS_PER_REQUEST = 5;
const POSTERS = 4;

// kill -9 while events are being posted: everything that got a 2xx must be in the store after a
// restart, and no anomaly version may reach a receiver twice.
describe('embedded mode survives kill -9', () => {
  let around: Surroundings;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let env: Record<string, string>;
  let burnrate: BurnrateProcess | undefined;

  beforeAll(async () => {
    around = await startSurroundings();
    ({ smtp, slack, env } = around);
  });

  afterAll(async () => {
    await burnrate?.stop();
    await around?.close();
  });

  it('loses no acknowledged event and repeats no delivery', async () => {
    burnrate = await startBurnrate(env);
    const url = burnrate.url;
    const acked = new Set<string>();
    let posted = 0;
    let failed = 0;
    let stop = false;
    let seq = 0;

    const poster = async (): Promise<void> => {
      // Bounded: stops on the flag, and in any case after 2,000 requests.
      for (let i = 0; i < 2000 && !stop; i++) {
        const n = seq++;
        const records = Array.from({ length: EVENTS_PER_REQUEST }, (_, j) => ({
          event_id: `crash-${n}-${j}`,
          occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + n * 1000 + j).toISOString(),
          developer_email: n % 2 === 0 ? 'alice@acme.com' : 'bob@acme.com',
          model: 'claude-opus-4-5',
          session_id: `crash-session-${n % SESSIONS}`,
          cost_usd: 1.5,
        }));
        posted += records.length;
        try {
          const res = await fetch(`${url}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...INGEST_AUTH },
            body: JSON.stringify(records),
          });
          if (res.status === 200) for (const r of records) acked.add(r.event_id);
          else failed += records.length;
          await res.arrayBuffer();
        } catch {
          failed += records.length;
        }
      }
    };

    const posting = Promise.all(Array.from({ length: POSTERS }, poster));
    // Kill once some sessions have crossed their caps, so deliveries are in flight too.
    await waitUntil(() => slack.messages.length >= 2 && acked.size >= 400, { timeoutMs: 30_000, message: 'traffic and first alerts' });
    await burnrate.kill9();
    stop = true;
    await posting;
    const ackedBeforeCrash = acked.size;

    burnrate = await startBurnrate(env);
    // Catch up: every stage has processed everything in the log, so anything the notifier was
    // about to send before the kill has gone out.
    await waitForCaughtUp(burnrate.url);
    expect(await burnrate.stop()).toBe(0);
    burnrate = undefined;

    const store = await createChdbStore({ dataDir: around.chdbDir, log: createLogger({ level: 'silent' }) });
    try {
      const stored = new Set((await store.listUsageEvents({ limit: 1_000_000 })).map((e) => e.event_id));
      const missing = [...acked].filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      expect(await store.countUsageEvents()).toBe(stored.size);

      const anomalies = await store.listAnomalies({ limit: 1000 });
      const versions = new Map<string, number[]>();
      for (const a of anomalies)
        versions.set(
          a.id,
          (await store.anomalyVersions(a.id)).map((v) => v.version),
        );
      // One episode per session, and versions without gaps.
      expect(new Set(anomalies.map((a) => a.subject.session)).size).toBe(anomalies.length);
      for (const vs of versions.values()) expect(vs).toEqual(vs.map((_, i) => i + 1));

      // Each message's identity is in its metadata, which an edit in place (the first message of a
      // thread showing the latest version) leaves as it was posted.
      const slackKeys = slack.messages.map((m) =>
        m.metadata ? `${String(m.metadata.event_payload.anomaly_id)}@${String(m.metadata.event_payload.version)}` : `unparsed:${m.text}`,
      );
      expect(new Set(slackKeys).size).toBe(slackKeys.length);
      // SMTP cannot be asked whether a send cut by the kill got through, so an email may go out
      // again after restart. It must carry the same Message-ID (which mail systems deduplicate
      // on): one Message-ID per anomaly version, never two versions under one Message-ID.
      const versionsByMessageId = new Map<string, Set<string | undefined>>();
      for (const m of smtp.messages) {
        const seen = versionsByMessageId.get(m.messageId) ?? new Set<string | undefined>();
        seen.add(m.headers['x-burnrate-anomaly']);
        versionsByMessageId.set(m.messageId, seen);
      }
      for (const seen of versionsByMessageId.values()) expect(seen.size).toBe(1);
      const emailKeys = new Set(smtp.messages.map((m) => m.headers['x-burnrate-anomaly']));
      expect(emailKeys.size).toBe(versionsByMessageId.size);
      const expectedVersions = [...versions.values()].reduce((n, vs) => n + vs.length, 0);
      // Nothing lost: every version reached a final state for both receivers (sent, or skipped
      // because it changed nothing a human needs), and what was sent is what arrived.
      const sent = { slack: 0, email: 0 };
      for (const id of versions.keys()) {
        const deliveries = await store.listDeliveries({ anomaly_id: id });
        for (const v of versions.get(id)!) {
          for (const receiver of ['slack:#payments-ai-spend', 'email:payments-leads@acme.com']) {
            const d = deliveries.find((x) => x.version === v && x.receiver === receiver);
            expect([`${id}@${v} ${receiver}`, d?.status]).toEqual([`${id}@${v} ${receiver}`, expect.stringMatching(/^(sent|skipped)$/)]);
            if (d?.status === 'sent') sent[d.channel as 'slack' | 'email'] += 1;
          }
        }
      }
      expect(slack.messages.length).toBe(sent.slack);
      expect(versionsByMessageId.size).toBe(sent.email);

      console.log(
        `crash test: sent ${posted} events, ${ackedBeforeCrash} acknowledged (2xx), ${failed} refused or cut by the kill, ` +
          `${stored.size} stored, ${anomalies.length} anomalies / ${expectedVersions} versions, ` +
          `${slack.messages.length} Slack + ${smtp.messages.length} email deliveries (${versionsByMessageId.size} distinct Message-IDs)`,
      );
    } finally {
      await store.close();
    }
  });
});
