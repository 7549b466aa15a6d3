import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BurnrateError, createLogger } from '@burnrate/core';
import { waitUntil } from '@burnrate/testing';
import { kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../../infra/kafka/suite-kafka.ts';
import type { BatchContext, ConsumedMessage } from '../port.ts';
import { partitionFor } from '../partitioner.ts';
import { createKafkaBus, type KafkaBus, type KafkaBusOptions } from './kafka-bus.ts';

// A broker lent by the run's pool (infra/kafka/suite-kafka.ts): KAFKA_BROKERS, else a
// testcontainers broker where a Docker engine runs, else the local one. Under CI=true a broker
// that cannot start fails the suite.
const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe.skipIf(!kafkaAvailable.shared)('Kafka bus against a real broker', () => {
  let broker: SuiteKafka | undefined;
  let brokers: string;
  let admin: Admin;
  const buses: KafkaBus[] = [];
  const created: string[] = [];

  beforeAll(async () => {
    broker = await leaseKafka();
    brokers = broker.brokers;
    admin = new Kafka({ clientId: 'bus-int-check', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  afterAll(async () => {
    // The broker serves the suites after this one: leave it as this suite found it.
    const left = (await admin?.listTopics())?.filter((t) => created.includes(t)) ?? [];
    if (left.length > 0) await admin.deleteTopics({ topics: left });
    await admin?.disconnect();
    await broker?.release();
  });

  function bus(options: Partial<KafkaBusOptions> = {}): KafkaBus {
    const b = createKafkaBus({
      brokers,
      clientId: 'bus-int',
      log,
      // Short timings so rebalances and stops take a fraction of a second, not the defaults' seconds.
      consumer: { heartbeatIntervalMs: 300, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 200 },
      retryDelayMs: 20,
      restartDelayMs: 100,
      ...options,
    });
    buses.push(b);
    return b;
  }

  const unique = (name: string) => {
    const topic = `bus-int.${name}.${randomUUID().slice(0, 8)}`;
    created.push(topic);
    return topic;
  };
  const values = (ms: readonly ConsumedMessage[]) => ms.map((m) => m.value);
  const messages = (n: number, from = 0, keys = 3) =>
    Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % keys}`, value: `v${from + i}` }));

  async function committed(groupId: string, topic: string): Promise<Map<number, number>> {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  }

  it('keeps order per key, with keys on the partitions the in-process bus uses', async () => {
    const topic = unique('order');
    const b = bus();
    await b.ensureTopics([topic]);
    const seen: ConsumedMessage[] = [];
    await b.subscribe({ groupId: unique('g'), topics: [topic], handleBatch: async (batch) => void seen.push(...batch.messages) }).start();
    for (let round = 0; round < 3; round++) await b.producer().send(topic, messages(20, round * 20, 5));
    await until(() => seen.length === 60);
    for (const m of seen) expect(m.partition).toBe(partitionFor(m.key, 6));
    for (let k = 0; k < 5; k++) {
      const forKey = seen.filter((m) => m.key === `k${k}`).map((m) => Number(m.value.slice(1)));
      expect(forKey).toEqual(Array.from({ length: 12 }, (_, i) => k + i * 5));
    }
  });

  it('acknowledges only sends that are on the topic, when requests time out after the broker wrote them', async () => {
    // A produce request the broker wrote but whose answer came too late is what a broker stopping
    // mid-request leaves too. kafkajs then hands its sequence numbers to the next batch, which the
    // broker took for a retry of the written one and acknowledged without writing it.
    const topic = unique('unanswered');
    await bus({ topics: { [topic]: { partitions: 2 } } }).ensureTopics([topic]);
    const impatient = bus({ requestTimeoutMs: 15 });
    const acked = new Set<string>();
    let next = 0;
    const sender = async (): Promise<void> => {
      // Bounded: 600 sends of 5 in all, each tried at most 50 times.
      while (next < 600) {
        const n = next++;
        const batch = Array.from({ length: 5 }, (_, j) => ({ key: `k${j % 2}`, value: `s${n}-${j}` }));
        for (let attempt = 0; attempt < 50; attempt++) {
          const ok = await impatient
            .producer()
            .send(topic, batch)
            .then(
              () => true,
              () => false,
            );
          if (ok) {
            for (const m of batch) acked.add(m.value);
            break;
          }
          // A producer's backoff before it resends.
          await sleep(20);
        }
      }
    };
    await Promise.all([sender(), sender(), sender()]);
    expect(acked.size).toBeGreaterThan(0);

    const seen = new Set<string>();
    const reader = bus();
    await reader
      .subscribe({
        groupId: unique('g'),
        topics: [topic],
        handleBatch: async (batch) => void batch.messages.forEach((m) => seen.add(m.value)),
      })
      .start();
    await until(() => [...acked].every((v) => seen.has(v)), 20_000).catch(() => undefined);
    expect([...acked].filter((v) => !seen.has(v))).toEqual([]);
  });

  it('commits only after the handler resolved, at the next offset to read', async () => {
    const topic = unique('commit');
    const groupId = unique('g');
    const b = bus({ topics: { [topic]: { partitions: 1 } } });
    await b.ensureTopics([topic]);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    let handling = false;
    await b
      .subscribe({
        groupId,
        topics: [topic],
        handleBatch: async (batch) => {
          handling = true;
          await gate;
          seen.push(...values(batch.messages));
        },
      })
      .start();
    await b.producer().send(topic, messages(3));
    // The batch is in the handler, which has not resolved: nothing may be committed yet.
    await until(() => handling);
    expect(seen).toEqual([]);
    expect((await committed(groupId, topic)).get(0)).toBe(-1);
    release();
    await until(() => seen.length === 3);
    await untilAsync(async () => (await committed(groupId, topic)).get(0) === 3);
  });

  it('redelivers a batch whose handler threw a retriable error, and skips nothing', async () => {
    const topic = unique('retry');
    const b = bus({ topics: { [topic]: { partitions: 1 } } });
    await b.ensureTopics([topic]);
    const seen: string[] = [];
    let failures = 2;
    const sub = b.subscribe({
      groupId: unique('g'),
      topics: [topic],
      handleBatch: async (batch) => {
        if (failures-- > 0) throw new BurnrateError('STORE_UNAVAILABLE', 'store down');
        seen.push(...values(batch.messages));
      },
    });
    await sub.start();
    await b.producer().send(topic, messages(3));
    await until(() => seen.length === 3);
    expect(seen).toEqual(['v0', 'v1', 'v2']);
    expect(sub.stats()).toMatchObject({ retries: 2, fatalErrors: 0, restarts: 0 });
  });

  it('stops on a non-retriable error, reports it, and the watchdog restarts from the last commit', async () => {
    const topic = unique('fatal');
    const fatal: unknown[] = [];
    const b = bus({ topics: { [topic]: { partitions: 1 } } });
    await b.ensureTopics([topic]);
    const seen: string[] = [];
    let poisoned = false;
    const sub = b.subscribe({
      groupId: unique('g'),
      topics: [topic],
      onFatal: (err) => fatal.push(err),
      handleBatch: async (batch) => {
        if (!poisoned && batch.messages.some((m) => m.value === 'poison')) {
          poisoned = true;
          throw new Error('handler bug');
        }
        seen.push(...values(batch.messages));
      },
    });
    await sub.start();
    await b.producer().send(topic, messages(2));
    await until(() => seen.length === 2);
    await b.producer().send(topic, [
      { key: 'k', value: 'poison' },
      { key: 'k', value: 'v3' },
    ]);
    await until(() => seen.length === 4, 15_000);
    // v0 and v1 were committed before the failure: the restarted consumer does not see them again.
    expect(seen).toEqual(['v0', 'v1', 'poison', 'v3']);
    expect(fatal).toHaveLength(1);
    expect((fatal[0] as Error).message).toBe('handler bug');
    expect(sub.stats()).toMatchObject({ fatalErrors: 1, restarts: 1 });
  });

  it('restarts a crashed consumer with the watchdog, telling the handler it lost its partitions', async () => {
    const topic = unique('crash');
    const spec = { [topic]: { partitions: 2 } };
    const b = bus({ topics: spec, retry: { retries: 2, initialRetryTimeMs: 100 } });
    await b.ensureTopics([topic]);
    const seen: string[] = [];
    const revoked: string[][] = [];
    const sub = b.subscribe({
      groupId: unique('g'),
      topics: [topic],
      onRevoked: async (ps) => void revoked.push(ps.map((p) => `${p.topic}:${p.partition}`)),
      handleBatch: async (batch) => void seen.push(...values(batch.messages)),
    });
    await sub.start();
    await b.producer().send(topic, messages(2));
    await until(() => seen.length === 2);
    // A fresh broker's coordinator may still be loading at the first join, which crashes too.
    const before = sub.stats();
    // Deleting the topic under a running consumer makes kafkajs give up and crash.
    await admin.deleteTopics({ topics: [topic] });
    await until(() => sub.stats().crashes > before.crashes && revoked.length > 0, 20_000);
    expect(revoked).toEqual([[`${topic}:0`, `${topic}:1`]]);
    expect(sub.stats().assigned).toEqual([]);
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await until(() => sub.stats().restarts > before.restarts && sub.stats().assigned.length === 2, 20_000);
    await b.producer().send(topic, messages(1, 2));
    await until(() => seen.length === 3);
    expect(seen).toContain('v2');
  });

  it('resumes a group after its committed offset when the process restarts', async () => {
    const topic = unique('restart');
    const groupId = unique('g');
    const first = bus();
    await first.ensureTopics([topic]);
    const before: string[] = [];
    await first.subscribe({ groupId, topics: [topic], handleBatch: async (b) => void before.push(...values(b.messages)) }).start();
    await first.producer().send(topic, messages(4));
    await until(() => before.length === 4);
    await first.close();

    const second = bus();
    await second.producer().send(topic, messages(2, 4));
    const after: string[] = [];
    await second.subscribe({ groupId, topics: [topic], handleBatch: async (b) => void after.push(...values(b.messages)) }).start();
    await until(() => after.length === 2);
    // A new group starts from the beginning (fromBeginning defaults to true).
    const fresh: string[] = [];
    const freshGroup = unique('g');
    await second
      .subscribe({ groupId: freshGroup, topics: [topic], handleBatch: async (b) => void fresh.push(...values(b.messages)) })
      .start();
    await until(() => fresh.length === 6);
    // Both groups have committed the end of the topic: nothing is left to deliver again.
    const total = async (g: string): Promise<number> => [...(await committed(g, topic)).values()].reduce((n, o) => n + Math.max(o, 0), 0);
    await untilAsync(async () => (await total(groupId)) === 6 && (await total(freshGroup)) === 6);
    expect(after.sort()).toEqual(['v4', 'v5']);
    expect(fresh.sort()).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('with autoCommit off, resumes from the explicit commit, and honours start offsets from onAssigned', async () => {
    const topic = unique('explicit');
    const groupId = unique('g');
    const spec = { topics: { [topic]: { partitions: 1 } } };
    const first = bus(spec);
    await first.ensureTopics([topic]);
    const seen: string[] = [];
    await first
      .subscribe({
        groupId,
        topics: [topic],
        autoCommit: false,
        handleBatch: async (batch, ctx) => {
          seen.push(...values(batch.messages));
          if (batch.messages.some((m) => m.value === 'v2')) await ctx.commit('2');
        },
      })
      .start();
    await first.producer().send(topic, messages(3));
    await until(() => seen.length === 3);
    await first.producer().send(topic, messages(3, 3));
    await until(() => seen.length === 6);
    await first.close();
    expect((await committed(groupId, topic)).get(0)).toBe(3);

    const second = bus(spec);
    const assigned: string[] = [];
    const fromSnapshot: string[] = [];
    await second
      .subscribe({
        groupId,
        topics: [topic],
        autoCommit: false,
        onAssigned: async (partitions) => {
          assigned.push(...partitions.map((p) => `${p.topic}:${p.partition}`));
          return { [`${topic}:0`]: '4' };
        },
        handleBatch: async (b) => void fromSnapshot.push(...values(b.messages)),
      })
      .start();
    expect(assigned).toEqual([`${topic}:0`]);
    await until(() => fromSnapshot.length === 2);
    await second.close();
    expect(fromSnapshot).toEqual(['v4', 'v5']);
    // A start offset moves the read position only; the group's commit stays where the handler put it.
    expect((await committed(groupId, topic)).get(0)).toBe(3);

    const third = bus(spec);
    const replay: string[] = [];
    await third.subscribe({ groupId, topics: [topic], handleBatch: async (b) => void replay.push(...values(b.messages)) }).start();
    await until(() => replay.length === 3);
    expect(replay).toEqual(['v3', 'v4', 'v5']);
  });

  it('shares partitions between two members of a group, which together see every message exactly once', async () => {
    const topic = unique('share');
    const groupId = unique('g');
    const a = bus({ clientId: 'member-a' });
    const b = bus({ clientId: 'member-b' });
    await a.ensureTopics([topic]);
    const seenA: ConsumedMessage[] = [];
    const seenB: ConsumedMessage[] = [];
    const revokedA: string[] = [];
    const subA = a.subscribe({
      groupId,
      topics: [topic],
      onRevoked: async (ps) => void revokedA.push(...ps.map((p) => `${p.topic}:${p.partition}`)),
      handleBatch: async (batch) => void seenA.push(...batch.messages),
    });
    const subB = b.subscribe({ groupId, topics: [topic], handleBatch: async (batch) => void seenB.push(...batch.messages) });
    await subA.start();
    expect(subA.stats().assigned).toHaveLength(6);
    await subB.start();
    await until(() => subA.stats().assigned.length === 3 && subB.stats().assigned.length === 3);
    // A gave up exactly the partitions B now holds.
    expect(revokedA.sort()).toEqual(subB.stats().assigned);

    for (let round = 0; round < 5; round++) await a.producer().send(topic, messages(60, round * 60, 30));
    await until(() => seenA.length + seenB.length >= 300);
    // The group has committed the end of every partition: a message seen twice would be here by now.
    await untilAsync(async () => [...(await committed(groupId, topic)).values()].reduce((n, o) => n + Math.max(o, 0), 0) === 300);
    const all = [...seenA, ...seenB];
    expect(all).toHaveLength(300);
    expect(new Set(all.map((m) => `${m.partition}:${m.offset}`)).size).toBe(300);
    expect(new Set(seenA.map((m) => `${m.topic}:${m.partition}`))).toEqual(new Set(subA.stats().assigned));
    expect(new Set(seenB.map((m) => `${m.topic}:${m.partition}`))).toEqual(new Set(subB.stats().assigned));
  });

  it('hands the uncommitted rest of a batch to the other member when a member stops mid-batch', async () => {
    const topic = unique('handover');
    const groupId = unique('g');
    const options = { topics: { [topic]: { partitions: 2 } } };
    const a = bus(options);
    const b = bus(options);
    await a.ensureTopics([topic]);
    const seenA: ConsumedMessage[] = [];
    const seenB: ConsumedMessage[] = [];
    let blocked = false;
    const subA = a.subscribe({
      groupId,
      topics: [topic],
      maxBatchSize: 5,
      handleBatch: async (batch, ctx) => {
        if (batch.messages[0]!.offset === '10') {
          // Mid-batch: the third chunk of a fetch never finishes; stop() aborts it.
          blocked = true;
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          throw new BurnrateError('SHUTTING_DOWN', 'aborted by stop');
        }
        seenA.push(...batch.messages);
      },
    });
    const subB = b.subscribe({ groupId, topics: [topic], handleBatch: async (batch) => void seenB.push(...batch.messages) });
    await subA.start();
    await subB.start();
    await until(() => subA.stats().assigned.length === 1 && subB.stats().assigned.length === 1);
    const partitionA = Number(subA.stats().assigned[0]!.split(':').at(-1));
    const keyA = Array.from({ length: 50 }, (_, i) => `key-${i}`).find((k) => partitionFor(k, 2) === partitionA)!;
    await a.producer().send(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ key: keyA, value: `a${i}` })),
    );
    await until(() => blocked);
    expect(seenA.map((m) => m.value)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));

    await subA.stop();
    expect((await committed(groupId, topic)).get(partitionA)).toBe(10);
    await until(() => seenB.length === 20, 15_000);
    expect(seenB.map((m) => m.value)).toEqual(Array.from({ length: 20 }, (_, i) => `a${i + 10}`));
    expect(subB.stats().assigned).toHaveLength(2);
    await untilAsync(async () => (await committed(groupId, topic)).get(partitionA) === 30);
  });

  it('redelivers to the other member what a SIGKILLed member had not committed, once its session expired', async () => {
    const topic = unique('killed');
    const groupId = unique('g');
    const options = { topics: { [topic]: { partitions: 2 } } };
    const b = bus(options);
    await b.ensureTopics([topic]);
    const member = spawn(process.execPath, [join(import.meta.dirname, 'member-process.fixture.ts'), brokers, groupId, topic], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => member.once('exit', resolve));
    const events: { started?: boolean; blocked?: string; handled?: string[]; partition?: number }[] = [];
    createInterface({ input: member.stdout }).on('line', (line) => events.push(JSON.parse(line) as (typeof events)[number]));
    try {
      await until(() => events.some((e) => e.started), 20_000);
      const seenB: ConsumedMessage[] = [];
      const subB = b.subscribe({ groupId, topics: [topic], handleBatch: async (batch) => void seenB.push(...batch.messages) });
      await subB.start();
      await until(() => subB.stats().assigned.length === 1);
      const partitionA = 1 - Number(subB.stats().assigned[0]!.split(':').at(-1));
      const keyA = Array.from({ length: 50 }, (_, i) => `key-${i}`).find((k) => partitionFor(k, 2) === partitionA)!;
      await b.producer().send(
        topic,
        Array.from({ length: 30 }, (_, i) => ({ key: keyA, value: `a${i}` })),
      );
      await until(() => events.some((e) => e.blocked !== undefined));
      expect(events.filter((e) => e.partition === partitionA).flatMap((e) => e.handled ?? [])).toEqual(
        Array.from({ length: 10 }, (_, i) => String(i)),
      );

      member.kill('SIGKILL');
      await exited;
      // No LeaveGroup: the broker waits for the session timeout (6 s) before handing the partition over.
      await until(() => seenB.length === 20, 20_000);
      expect(seenB.map((m) => [m.partition, m.offset])).toEqual(Array.from({ length: 20 }, (_, i) => [partitionA, String(i + 10)]));
      await untilAsync(async () => (await committed(groupId, topic)).get(partitionA) === 30);
    } finally {
      member.kill('SIGKILL');
    }
  });

  it('refuses a late commit for a partition the member lost in a rebalance, and keeps commits for the rest', async () => {
    const topic = unique('late-commit');
    const groupId = unique('g');
    const options = { topics: { [topic]: { partitions: 2 } } };
    const a = bus(options);
    const b = bus(options);
    await a.ensureTopics([topic]);
    const contexts = new Map<number, BatchContext>();
    const subA = a.subscribe({
      groupId,
      topics: [topic],
      autoCommit: false,
      // The handler commits later, as the detector does after a snapshot.
      handleBatch: async (batch, ctx) => void contexts.set(batch.partition, ctx),
    });
    const seenB: ConsumedMessage[] = [];
    const subB = b.subscribe({
      groupId,
      topics: [topic],
      autoCommit: false,
      handleBatch: async (batch) => void seenB.push(...batch.messages),
    });
    await subA.start();
    const keys = [0, 1].map((p) => Array.from({ length: 50 }, (_, i) => `key-${i}`).find((k) => partitionFor(k, 2) === p)!);
    await a.producer().send(
      topic,
      keys.map((key) => ({ key, value: key })),
    );
    await until(() => contexts.size === 2);
    await subB.start();
    await until(() => subA.stats().assigned.length === 1 && subB.stats().assigned.length === 1);
    const lost = Number(subB.stats().assigned[0]!.split(':').at(-1));
    const kept = 1 - lost;

    await expect(contexts.get(lost)!.commit('0')).rejects.toMatchObject({
      code: 'BUS_UNAVAILABLE',
      message: expect.stringMatching(/no longer holds/),
    });
    await contexts.get(kept)!.commit('0');
    const offsets = await committed(groupId, topic);
    expect([offsets.get(kept), offsets.get(lost)]).toEqual([1, -1]);
    // Nothing was committed for the lost partition, so its new owner gets its message.
    await until(() => seenB.length === 1);
    expect(seenB[0]).toMatchObject({ partition: lost, offset: '0' });
  });

  it('fails start() and send() with a retriable BUS_UNAVAILABLE when no broker answers', async () => {
    const b = bus({ brokers: '127.0.0.1:1', retry: { retries: 0 }, connectionTimeoutMs: 300 });
    const sub = b.subscribe({ groupId: unique('g'), topics: ['t'], handleBatch: async () => {} });
    await expect(sub.start()).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
    await expect(b.producer().send('t', [{ key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
  });

  it('reports lag until the handler has finished everything, then 0', async () => {
    const topic = unique('lag');
    const b = bus({ topics: { [topic]: { partitions: 1 } } });
    await b.ensureTopics([topic]);
    await b.producer().send(topic, messages(50));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const sub = b.subscribe({
      groupId: unique('g'),
      topics: [topic],
      maxBatchSize: 10,
      handleBatch: async (batch) => {
        await gate;
        handled += batch.messages.length;
      },
    });
    await sub.start();
    await until(() => sub.lag() === 50);
    release();
    await until(() => handled === 50);
    await until(() => sub.lag() === 0);
    await b.producer().send(topic, messages(5, 50));
    await until(() => handled === 55 && sub.lag() === 0);
  });

  it('creates topics with their partition counts once, and names the topic in producer errors', async () => {
    const small = unique('small');
    const dflt = unique('default');
    const b = bus({ topics: { [small]: { partitions: 3, config: { 'max.message.bytes': '1024' } } } });
    await b.ensureTopics([small, dflt]);
    await b.ensureTopics([small, dflt]);
    const metadata = await admin.fetchTopicMetadata({ topics: [small, dflt] });
    expect(metadata.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual(
      [
        [dflt, 6],
        [small, 3],
      ].sort(),
    );

    const tooLarge = await b
      .producer()
      .send(small, [{ key: 'k', value: 'x'.repeat(5000) }])
      .catch((e: unknown) => e);
    expect(tooLarge).toBeInstanceOf(BurnrateError);
    expect(tooLarge).toMatchObject({ code: 'INPUT_TOO_LARGE', retriable: false });
    expect((tooLarge as Error).message).toContain(small);

    // kafkajs retries an unknown topic (it may be propagating) before giving up: ~10 s with the
    // default 5 retries, so this bus retries once.
    const missing = unique('missing');
    const impatient = bus({ retry: { retries: 1, initialRetryTimeMs: 100 } });
    const unknown = await impatient
      .producer()
      .send(missing, [{ key: 'k', value: 'v' }])
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'NOT_FOUND', retriable: false });
    expect((unknown as Error).message).toContain(missing);

    await b.close();
    await expect(b.producer().send(dflt, [{ key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'BUS_CLOSED' });
    await expect(b.subscribe({ groupId: 'g', topics: [dflt], handleBatch: async () => {} }).start()).rejects.toMatchObject({
      code: 'BUS_CLOSED',
    });
  });
});

const until = (check: () => boolean, timeoutMs = 10_000): Promise<boolean> =>
  waitUntil(check, { timeoutMs, intervalMs: 10, message: 'condition not met in time' });

const untilAsync = (check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> =>
  waitUntil(check, { timeoutMs, intervalMs: 50, message: 'condition not met in time' });
