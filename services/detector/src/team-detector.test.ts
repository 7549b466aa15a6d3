import type { BatchContext, ConsumedMessage, OutgoingMessage, Producer } from '@burnrate/bus';
import { createLogger, fixedClock, fixedConfig } from '@burnrate/core';
import { Anomaly, UsageRollup, type UsageEvent } from '@burnrate/schemas';
import { describe, expect, it } from 'vitest';
import { createDetector, type DetectorService } from './detector.ts';
import { replay } from './replay.ts';
import { createMemorySnapshotStore, type SnapshotStore } from './snapshots.ts';
import { createTeamDetector, type TeamDetectorService } from './team-detector.ts';
import { batchesByTime, eventMessages, teamConfig as config, teamStream } from './test-streams.ts';

const ROLLUPS = 'usage.rollups.v1';
const silent = createLogger({ level: 'silent' });

/** A producer that keeps each topic's messages as the bus would hand them out (one partition per topic). */
function fakeBus() {
  const topics = new Map<string, ConsumedMessage[]>();
  const ops: string[] = [];
  const producer: Producer & { failNext: number } = {
    failNext: 0,
    send(topic, messages: readonly OutgoingMessage[]) {
      if (producer.failNext > 0) {
        producer.failNext -= 1;
        return Promise.reject(new Error('broker unavailable'));
      }
      let log = topics.get(topic);
      if (log === undefined) topics.set(topic, (log = []));
      for (const m of messages) {
        log.push({ topic, partition: 0, offset: String(log.length), key: m.key, value: m.value, headers: {}, timestamp: 0 });
      }
      ops.push(`send ${topic} ${messages.length}`);
      return Promise.resolve();
    },
  };
  const ctx: BatchContext = {
    commit: (offset) => {
      ops.push(`commit ${offset}`);
      return Promise.resolve();
    },
    signal: new AbortController().signal,
  };
  return { producer, ctx, ops, messages: (topic: string) => topics.get(topic) ?? [] };
}

function recorded(store: SnapshotStore, ops: string[]): SnapshotStore {
  return {
    load: (key) => store.load(key),
    async save(s) {
      await store.save(s);
      ops.push(`save ${s.key} ${s.offset}`);
    },
  };
}

type Service = DetectorService | TeamDetectorService;

async function feed(service: Service, topic: string, messages: readonly ConsumedMessage[], ctx: BatchContext, batchSize = messages.length) {
  for (let i = 0; i < messages.length; i += batchSize) {
    const slice = messages.slice(i, i + batchSize);
    if (slice.length === 0) continue;
    await service.subscribeOptions.handleBatch({ topic, partition: slice[0]?.partition ?? 0, messages: slice, highWatermark: '0' }, ctx);
  }
  // A batch's output, snapshot and commit finish after it returns; the fakes answer at once.
  await new Promise((resolve) => setImmediate(resolve));
}

const anomaliesOf = (messages: readonly ConsumedMessage[]): Anomaly[] =>
  messages.map((m) => {
    const a = Anomaly.parse(JSON.parse(m.value));
    expect(m.key).toBe(a.id);
    return a;
  });

const occurredAt = (m: ConsumedMessage): string => (JSON.parse(m.value) as UsageEvent).occurred_at;
const isTeam = (a: Anomaly): boolean => a.subject.developer === undefined;

const events = teamStream();

/**
 * Stage A over `partitions` (each a list of events for one usage.events.v1 partition), as one
 * detector instance per partition consuming batches of one event time, the partitions keeping
 * pace with each other; then stage B over every rollup they sent, in batches of `bBatch`.
 * Returns stage B's anomalies and the rollups.
 */
async function pipeline(partitions: readonly UsageEvent[][], bBatch = 50): Promise<{ team: Anomaly[]; rollups: ConsumedMessage[] }> {
  const bus = fakeBus();
  const instances = partitions.map((evs, p) => ({
    detector: createDetector({
      config: fixedConfig(config),
      producer: bus.producer,
      snapshots: createMemorySnapshotStore(),
      log: silent,
      snapshotEveryMs: 0,
    }),
    batches: batchesByTime(eventMessages(evs, p), occurredAt),
  }));
  const times = [...new Set(events.map((e) => e.occurred_at))];
  const next = instances.map(() => 0);
  for (const t of times) {
    for (const [i, inst] of instances.entries()) {
      const batch = inst.batches[next[i] as number];
      if (batch === undefined || occurredAt(batch[0] as ConsumedMessage) !== t) continue;
      next[i] = (next[i] as number) + 1;
      await feed(inst.detector, 'usage.events.v1', batch, bus.ctx);
    }
  }
  const rollups = bus.messages(ROLLUPS);
  const b = fakeBus();
  const teamDetector = createTeamDetector({
    config: fixedConfig(config),
    producer: b.producer,
    snapshots: createMemorySnapshotStore(),
    log: silent,
  });
  await feed(teamDetector, ROLLUPS, rollups, b.ctx, bBatch);
  return { team: anomaliesOf(b.messages('anomalies.v1')), rollups };
}

describe('createTeamDetector', () => {
  it('subscribes to usage.rollups.v1 as burnrate-team-detector with manual commits', () => {
    const d = createTeamDetector({
      config: fixedConfig(config),
      producer: fakeBus().producer,
      snapshots: createMemorySnapshotStore(),
      log: silent,
    });
    expect(d.subscribeOptions).toMatchObject({ groupId: 'burnrate-team-detector', topics: ['usage.rollups.v1'], autoCommit: false });
  });

  it('raises the team anomalies replay raises, from stage A rollups', async () => {
    const { team, rollups } = await pipeline([events]);
    for (const m of rollups) {
      const r = UsageRollup.parse(JSON.parse(m.value));
      expect(m.key).toBe(`${r.org}:${r.team}`);
    }
    const both = (await replay(events, config)).anomalies;
    const expected = both.filter(isTeam);
    expect(new Set(team.map((a) => a.kind))).toEqual(new Set(['model_mix_drift', 'cache_efficiency_drop', 'budget_forecast']));
    // Alice's afternoon is a spike of hers: the rollups say so, and the team's spike is left to her alert.
    expect(rollups.some((m) => ((JSON.parse(m.value) as UsageRollup).developer_spike_usd ?? 0) > 0)).toBe(true);
    expect(both.some((a) => a.kind === 'spend_spike' && a.subject.developer === 'alice@acme.com')).toBe(true);
    // Stage A batches (one per event time) coalesce the deltas of one time, which replay feeds one event at a time.
    const brief = (a: Anomaly) => `${a.kind} ${a.id} v${a.version} ${a.severity} ${a.status} ${a.detected_at}`;
    expect(team.map(brief)).toEqual(expected.map(brief));
  });

  it('gives the same team anomalies when two stage-A instances each see half of the team', async () => {
    const one = await pipeline([events]);
    const bob = (e: UsageEvent) => e.developer === 'bob@acme.com';
    const two = await pipeline([events.filter((e) => !bob(e)), events.filter(bob)]);
    expect(new Set(two.rollups.map((m) => (JSON.parse(m.value) as UsageRollup).source))).toEqual(
      new Set(['usage.events.v1:0', 'usage.events.v1:1']),
    );
    expect(one.team.length).toBeGreaterThan(5);
    expect(two.team).toEqual(one.team);
    // Against the shortcut of old (team detectors inside each stage-A engine): bob's partition alone
    // sees the premium share go from ~0 to 100% and the rest see no change at all.
    const partial = (await replay(events.filter(bob), config)).anomalies.filter((a) => isTeam(a) && a.kind === 'model_mix_drift');
    expect(partial.map((a) => a.observed.value)).not.toEqual(
      one.team.filter((a) => a.kind === 'model_mix_drift').map((a) => a.observed.value),
    );
  });

  it('publishes, then saves the snapshot, then commits, at most every snapshotEveryMs', async () => {
    const { rollups } = await pipeline([events]);
    const b = fakeBus();
    const clock = fixedClock(new Date('2026-11-25T10:00:00Z'));
    const store = createMemorySnapshotStore();
    const d = createTeamDetector({
      config: fixedConfig(config),
      producer: b.producer,
      snapshots: recorded(store, b.ops),
      log: silent,
      clock,
      snapshotEveryMs: 1000,
    });
    // Within the first second nothing is saved or committed; the batch after it is.
    const cut = Math.floor(rollups.length * 0.6);
    await feed(d, ROLLUPS, rollups.slice(0, cut), b.ctx, 100);
    expect(b.ops.filter((o) => o.startsWith('save') || o.startsWith('commit'))).toEqual([]);
    clock.advance(1000);
    await feed(d, ROLLUPS, rollups.slice(cut), b.ctx);
    const ops = b.ops;
    const sends = ops.filter((o) => o.startsWith('send'));
    expect(sends.length).toBeGreaterThan(0);
    expect(ops.slice(-2)).toEqual([`save detector:usage.rollups.v1:0 ${rollups.length - 1}`, `commit ${rollups.length - 1}`]);
    expect(ops.indexOf(`save detector:usage.rollups.v1:0 ${rollups.length - 1}`)).toBeGreaterThan(ops.lastIndexOf(sends.at(-1) as string));
    expect(d.stats()).toMatchObject({ processed: rollups.length, invalid: 0, late: 0, stale: 0, snapshots: 1 });
  });

  it('gives the same anomalies after a crash and a replay from the last snapshot, with no extra versions', async () => {
    const { rollups } = await pipeline([events]);
    const clean = fakeBus();
    await feed(
      createTeamDetector({ config: fixedConfig(config), producer: clean.producer, snapshots: createMemorySnapshotStore(), log: silent }),
      ROLLUPS,
      rollups,
      clean.ctx,
      64,
    );
    const expected = anomaliesOf(clean.messages('anomalies.v1'));
    expect(expected.length).toBeGreaterThan(5);

    // First run: snapshots now and then, then the process dies two thirds of the way in.
    const crashed = fakeBus();
    const store = createMemorySnapshotStore();
    const clock = fixedClock(new Date('2026-11-25T10:00:00Z'));
    const run1 = createTeamDetector({
      config: fixedConfig(config),
      producer: crashed.producer,
      snapshots: store,
      log: silent,
      clock,
      snapshotEveryMs: 1500,
    });
    const cut = Math.floor((rollups.length * 2) / 3);
    for (let i = 0; i < cut; i += 64) {
      await feed(run1, ROLLUPS, rollups.slice(i, Math.min(i + 64, cut)), crashed.ctx);
      clock.advance(600);
    }
    const snapshotOffset = Number(store.saved.get('detector:usage.rollups.v1:0')?.offset);
    expect(snapshotOffset).toBeGreaterThan(0);
    expect(snapshotOffset).toBeLessThan(cut - 1);

    // Restart: restore, replay from the snapshot's offset to the end.
    const run2 = createTeamDetector({ config: fixedConfig(config), producer: crashed.producer, snapshots: store, log: silent, clock });
    const starts = (await run2.subscribeOptions.onAssigned?.([{ topic: ROLLUPS, partition: 0 }])) as Record<string, string>;
    expect(starts).toEqual({ 'usage.rollups.v1:0': String(snapshotOffset + 1) });
    await feed(run2, ROLLUPS, rollups.slice(snapshotOffset + 1), crashed.ctx, 64);

    const all = anomaliesOf(crashed.messages('anomalies.v1'));
    const byVersion = new Map<string, Anomaly>();
    for (const a of all) {
      const k = `${a.id}@${a.version}`;
      // A re-emitted version is the same anomaly, byte for byte.
      if (byVersion.has(k)) expect(a).toEqual(byVersion.get(k));
      byVersion.set(k, a);
    }
    expect([...byVersion.values()]).toEqual(expected);
  });

  it('ignores rollups stage A sends again after its own restart', async () => {
    const { rollups } = await pipeline([events]);
    const clean = fakeBus();
    await feed(
      createTeamDetector({ config: fixedConfig(config), producer: clean.producer, snapshots: createMemorySnapshotStore(), log: silent }),
      ROLLUPS,
      rollups,
      clean.ctx,
      64,
    );
    // Stage A had sent 80% but snapshotted at 60%: after its restart what followed arrives again.
    const sentUpTo = Math.floor(rollups.length * 0.8);
    const snapshotAt = Math.floor(rollups.length * 0.6);
    const resent = [...rollups.slice(0, sentUpTo), ...rollups.slice(snapshotAt)].map((m, i) => ({ ...m, offset: String(i) }));
    const again = fakeBus();
    const d = createTeamDetector({
      config: fixedConfig(config),
      producer: again.producer,
      snapshots: createMemorySnapshotStore(),
      log: silent,
    });
    await feed(d, ROLLUPS, resent, again.ctx, 64);
    expect(anomaliesOf(again.messages('anomalies.v1'))).toEqual(anomaliesOf(clean.messages('anomalies.v1')));
    // Each is either already held (stale) or for an hour judged since (late): none counted twice.
    expect(d.stats().stale + d.stats().late).toBe(sentUpTo - snapshotAt);
    expect(d.stats().stale).toBeGreaterThan(0);
  });

  it('logs and counts invalid rollups and late ones, and goes on', async () => {
    const { rollups } = await pipeline([events.slice(0, 300)]);
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(s) } });
    const b = fakeBus();
    const d = createTeamDetector({ config: fixedConfig(config), producer: b.producer, snapshots: createMemorySnapshotStore(), log });
    const last = rollups.at(-1) as ConsumedMessage;
    const early = UsageRollup.parse(JSON.parse((rollups[0] as ConsumedMessage).value));
    const bad = { ...last, value: JSON.stringify({ ...early, hour: '2026-10-05T07:30:00Z' }) };
    const batch = [last, { ...last, value: '{oops' }, bad, { ...last, value: JSON.stringify({ ...early, seq: early.seq + 1000 }) }];
    await feed(
      d,
      ROLLUPS,
      batch.map((m, i) => ({ ...m, offset: String(i) })),
      b.ctx,
    );
    expect(d.stats()).toMatchObject({ processed: 2, invalid: 2, late: 1 });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; issues?: string[]; late?: number });
    expect(logged.map((l) => l.msg)).toEqual([
      'rollup is not JSON; skipped',
      'rollup failed validation; skipped',
      'late rollups in batch: their hour had closed (their stage-A partition was idle, or further behind than stage B holds for)',
    ]);
    expect(logged[1]?.issues?.[0]).toMatch(/^hour: /);
  });

  it('keeps anomalies whose send failed and snapshots only after they are out', async () => {
    const { rollups } = await pipeline([events]);
    const b = fakeBus();
    const store = createMemorySnapshotStore();
    // A fixed clock: snapshots are due at each batch below, and no idle snapshot runs in between.
    const clock = fixedClock(new Date('2026-11-25T10:00:00Z'));
    const d = createTeamDetector({
      config: fixedConfig(config),
      producer: b.producer,
      snapshots: recorded(store, b.ops),
      log: silent,
      clock,
      snapshotEveryMs: 1000,
    });
    b.producer.failNext = 1;
    // The batch returns before its output is acknowledged; the failed send leaves it pending and
    // the snapshot that would include it is dropped.
    clock.advance(1000);
    await feed(d, ROLLUPS, rollups, b.ctx);
    expect(store.saved.size).toBe(0);
    // The next batch (here the bus redelivering the same) sends it first.
    clock.advance(1000);
    await feed(d, ROLLUPS, rollups, b.ctx);
    expect(b.ops.at(-1)).toBe(`commit ${rollups.length - 1}`);
    expect(anomaliesOf(b.messages('anomalies.v1')).length).toBeGreaterThan(5);
    expect(d.stats().processed).toBe(rollups.length);
  });
});
