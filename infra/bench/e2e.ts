// `npm run bench:e2e`: distributed mode through a real Kafka broker, in one run.
//  (a) baseline: a bare kafkajs consumer (eachBatch, no processing) reads the generated scenario
//      stream, serialised and keyed as ingest publishes it, from a fresh topic;
//  (b) throughput: the same events preloaded on usage.events.v1, one detector instance (the
//      service's own wiring, in its own process) handles all of them; events/s and the ratio to (a);
//  (c) latency: the detector caught up, the real ingest service (services/ingest/src/main.ts)
//      takes HTTP posts at a steady rate; each carries one new session whose events cross its
//      team's session_cost cap. Measured from the 2xx answer to the anomaly read by a kafkajs
//      consumer on anomalies.v1.
// Targets (DESIGN.md): >= 75k events/s per detector instance, ingest->anomaly p99 <= 500 ms.
// The broker is KAFKA_BROKERS when set (a scratch cluster: the bench fills usage.events.v1 and
// refuses a topic that already holds events), else a local one from infra/kafka. Progress goes to
// stderr, results to stdout (--json for machines).
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { detectorSettings } from '@burnrate/core';
import { Anomaly, TOPICS, usageEventKey } from '@burnrate/schemas';
import { type Consumer, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { generateScenario } from '@burnrate/scenarios';
import { type LocalKafka, startLocalKafka } from '../kafka/local-kafka-lib.ts';
import { declareTopics } from '@burnrate/bus';
import type { InstanceReport, InstanceRequest, Timing, Trace } from './detector-instance.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    /** Weeks of the generated scenario; more weeks, more events (6 is ~145k). */
    weeks: { type: 'string', default: '6' },
    /** HTTP posts per second during the latency phase. */
    rate: { type: 'string', default: '50' },
    /** Anomalies measured (one per post) after the warm-up. */
    anomalies: { type: 'string', default: '500' },
    /** Ordinary events per post besides the triggering session. */
    background: { type: 'string', default: '20' },
    'warmup-s': { type: 'string', default: '3' },
    /** Writes a V8 CPU profile of the detector instance into this directory. */
    profile: { type: 'string' },
    /** The detector's threads (BURNRATE_DETECTOR_THREADS); the service's default (the CPUs) when omitted. */
    threads: { type: 'string' },
  },
});
const weeks = Math.max(3, Number(values.weeks));
const rate = Math.max(1, Number(values.rate));
const measured = Math.max(1, Number(values.anomalies));
const background = Math.max(0, Number(values.background));
const warmupPosts = Math.round(Math.max(0, Number(values['warmup-s'])) * rate);
const threads = values.threads ?? process.env.BURNRATE_DETECTOR_THREADS;

const TARGET_EVENTS_PER_S = 75_000;
const TARGET_P99_MS = 500;
const REPO = join(import.meta.dirname, '..', '..');
const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
// A partition's share of one send is one record batch, which must stay under the broker's 1 MB max.message.bytes.
const SEND_CHUNK = 1_000;
// Anomalies still missing this long after the last answer are reported as lost.
const DRAIN_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 60_000;

const progress = (message: string): void => void process.stderr.write(`bench:e2e ${message}\n`);

// kafkajs 2.2.4 makes Node 24 warn on every connection (tulios/kafkajs#1751); harmless, and it
// would bury the progress lines.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') progress(`warning: ${w.name}: ${w.message}`);
});

/** Undone in reverse order on the way out, also on error or Ctrl-C. */
const cleanups: { what: string; run: () => Promise<unknown> }[] = [];
const onExit = (what: string, run: () => Promise<unknown>): void => void cleanups.push({ what, run });
async function cleanUp(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c.run();
    } catch (err) {
      progress(`cleanup of ${c.what} failed: ${(err as Error).message}`);
    }
  }
}

interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function quantiles(samples: readonly number[]): Quantiles {
  const sorted = [...samples].sort((a, b) => a - b);
  // Nearest rank: with 500 samples p99 is the 5th largest, a value that was really observed.
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-bench-e2e-'));
  onExit('temp dir', () => rm(dir, { recursive: true, force: true }));

  progress(`generating the scenario (${weeks} weeks)`);
  const scenario = generateScenario({ weeks });
  const configPath = join(dir, 'burnrate.yaml');
  // Open ingest: the bench posts from this process to an ingest bound to loopback, and measures the pipeline, not keys.
  await writeFile(configPath, `${scenario.configYaml}\ningest: { auth: none }\n`);
  const messages = scenario.events.map((e) => ({ key: usageEventKey(e), value: JSON.stringify(e) }));
  const streamBytes = messages.reduce((n, m) => n + Buffer.byteLength(m.value), 0);

  let broker: LocalKafka | undefined;
  const external = process.env.KAFKA_BROKERS;
  if (external === undefined) {
    progress('starting a local Kafka broker');
    broker = await startLocalKafka({
      java,
      log: { info: progress, warn: progress },
      // Kafka's default, which the test brokers set to 0: members that start together (the
      // detector's threads) join in one generation instead of the first taking every partition.
      brokerConfig: { 'group.initial.rebalance.delay.ms': '3000' },
    });
    const started = broker;
    onExit('Kafka broker', () => started.stop());
  }
  const brokers = external ?? broker!.brokers;
  const kafka = new Kafka({ clientId: 'burnrate-bench-e2e', brokers: brokers.split(','), logLevel: logLevel.NOTHING });

  progress('burnrate topics apply');
  await applyTopics(brokers);
  const admin = kafka.admin();
  await admin.connect();
  onExit('admin client', () => admin.disconnect());
  const usageTopic = TOPICS.usageEvents.name;
  const already = (await admin.fetchTopicOffsets(usageTopic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (already > 0) {
    throw new Error(
      `${usageTopic} at ${brokers} already holds ${already} events; the bench needs a cluster where it is empty (unset KAFKA_BROKERS for a local broker)`,
    );
  }
  const partitions = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === usageTopic)?.partitions ?? 12;
  const plainTopic = `bench.plain-consume.${process.pid}.${Date.now()}`;
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: plainTopic, numPartitions: partitions, replicationFactor: 1 }] });
  onExit(`topic ${plainTopic}`, () => admin.deleteTopics({ topics: [plainTopic] }));

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  onExit('producer', () => producer.disconnect());
  progress(`producing ${messages.length} events to ${plainTopic} and ${usageTopic}`);
  const produceMs = await produceAll(producer, plainTopic, messages);
  await produceAll(producer, usageTopic, messages);
  const used = (await admin.fetchTopicOffsets(usageTopic)).filter((p) => Number(p.high) > 0).length;

  progress('(a) plain kafkajs consumer');
  const plain = await plainConsume(kafka, plainTopic, messages.length);

  progress('(b) one detector instance over the preloaded events');
  const instance = await forkInstance(brokers, configPath, values.profile);
  const brokerCpuBefore = broker === undefined ? undefined : await processCpuMs(broker.pid);
  const caughtUp = await instance.request({ type: 'catch-up', events: messages.length }, 'caught-up', 600_000);
  // The broker shares the machine: what it used during the catch-up (fetches, rollup and snapshot writes) is CPU the detector did not have.
  const brokerCpuAfter = broker === undefined ? undefined : await processCpuMs(broker.pid);
  const brokerCpuMs = brokerCpuAfter === undefined || brokerCpuBefore === undefined ? undefined : brokerCpuAfter - brokerCpuBefore;
  const detectorPerS = caughtUp.processed / (caughtUp.consumeMs / 1000);
  const { trace: catchUpTrace } = await instance.request({ type: 'trace' }, 'trace', 10_000);

  progress(`(c) latency: ${warmupPosts} warm-up posts, then ${measured} measured, ${rate}/s, ${background + 3} events each`);
  const ingest = await startIngest(brokers, configPath);
  onExit('ingest', () => ingest.stop());
  const trace = async (): Promise<Trace> => (await instance.request({ type: 'trace' }, 'trace', 10_000)).trace;
  const latency = await measureLatency(kafka, `http://127.0.0.1:${ingest.port}/v1/events`, scenario.config, trace);

  const totals = await instance.request({ type: 'stop' }, 'stopped', 60_000);
  await cleanUp();

  const ratio = detectorPerS / plain.perSecond;
  const detectorPerCpuS = caughtUp.processed / (caughtUp.cpuMs / 1000);
  const cpuRatio = detectorPerCpuS / plain.perCpuSecond;
  const throughputOk = detectorPerS >= TARGET_EVENTS_PER_S;
  const latencyQ = quantiles(latency.samples);
  const latencyOk = latencyQ.p99 <= TARGET_P99_MS && latency.missing === 0;
  const round = (x: number): number => Math.round(x * 10) / 10;
  const roundQ = (q: Quantiles): Quantiles => ({ p50: round(q.p50), p90: round(q.p90), p99: round(q.p99), max: round(q.max) });

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          broker: external === undefined ? 'local' : 'KAFKA_BROKERS',
          stream: { events: messages.length, bytes: streamBytes, partitions, partitions_with_events: used },
          produce_per_s: Math.round(messages.length / (produceMs / 1000)),
          plain_kafkajs: { events_per_s: Math.round(plain.perSecond), events_per_cpu_s: Math.round(plain.perCpuSecond) },
          detector: {
            events_per_s: Math.round(detectorPerS),
            ratio_to_plain: Number(ratio.toFixed(3)),
            events_per_cpu_s: Math.round(detectorPerCpuS),
            cpu_ratio_to_plain: Number(cpuRatio.toFixed(3)),
            threads: instance.threads,
            thread_shares: totals.threads,
            join_ms: Math.round(instance.joinMs),
            first_event_ms: Math.round(caughtUp.firstEventMs),
            consume_ms: Math.round(caughtUp.consumeMs),
            cpu_ms: Math.round(caughtUp.cpuMs),
            broker_cpu_ms: brokerCpuMs === undefined ? null : Math.round(brokerCpuMs),
            anomalies_published: caughtUp.anomalies,
            rollups_published: caughtUp.rollups,
            snapshots: caughtUp.snapshots,
            batches: caughtUp.batches,
          },
          latency_ms: {
            posts: latency.posts,
            events_per_s: Math.round(latency.eventsPerS),
            anomalies: latency.samples.length,
            missing: latency.missing,
            ingest_to_anomaly: roundQ(latencyQ),
            http_answer: roundQ(quantiles(latency.http)),
            answer_to_detector_send: roundQ(quantiles(latency.detect)),
            detector_send_to_read: roundQ(quantiles(latency.deliver)),
          },
          detector_trace: { catch_up: catchUpTrace, latency: latency.trace },
          detector_totals: { stage_a: totals.stageA, stage_b: totals.stageB },
          targets: { events_per_s: TARGET_EVENTS_PER_S, p99_ms: TARGET_P99_MS },
          pass: { throughput: throughputOk, latency: latencyOk },
        },
        null,
        2,
      ),
    );
    return;
  }
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const pass = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  const q = (x: Quantiles): string => `p50 ${ms(x.p50)}, p90 ${ms(x.p90)}, p99 ${ms(x.p99)}, max ${ms(x.max)}`;
  const row = (name: string, perS: number, r: number, perCpuS: number, cpuR: number, target = ''): string =>
    `  ${name.padEnd(56)} ${fmt(perS).padStart(9)} ${r.toFixed(2).padStart(7)} ${fmt(perCpuS).padStart(12)} ${cpuR.toFixed(2).padStart(7)}  ${target}`.trimEnd();
  const out: string[] = [];
  out.push(
    `e2e bench: ${external === undefined ? 'local Kafka broker' : `KAFKA_BROKERS=${brokers}`}; generated scenario, ${fmt(messages.length)} events ` +
      `(${(streamBytes / 1e6).toFixed(1)} MB JSON) on ${partitions} partitions (${used} hold events), one run`,
  );
  out.push('');
  out.push(
    `  ${'path'.padEnd(56)} ${'events/s'.padStart(9)} ${'x plain'.padStart(7)} ${'per CPU-s'.padStart(12)} ${'x plain'.padStart(7)}  target`,
  );
  out.push(row('bare kafkajs consumer, eachBatch, no processing (baseline)', plain.perSecond, 1, plain.perCpuSecond, 1));
  out.push(
    row(
      `one detector instance, ${instance.threads} thread${instance.threads === 1 ? '' : 's'}, to lag 0 (stage A + B)`,
      detectorPerS,
      ratio,
      detectorPerCpuS,
      cpuRatio,
      `>= ${fmt(TARGET_EVENTS_PER_S)}/s: ${pass(throughputOk)}`,
    ),
  );
  out.push(
    `  detector: joined in ${ms(instance.joinMs)}, first event ${ms(caughtUp.firstEventMs)} later, all in ${ms(caughtUp.consumeMs)} ` +
      `(${ms(caughtUp.cpuMs)} of CPU); ${fmt(caughtUp.anomalies)} anomalies and ${fmt(caughtUp.rollups)} rollups published, ` +
      `${fmt(caughtUp.snapshots)} snapshots, ${fmt(caughtUp.batches)} batches` +
      (brokerCpuMs === undefined
        ? ''
        : `; the broker used ${ms(brokerCpuMs)} of CPU meanwhile (from the first event to caught up, plus the join)`),
  );
  out.push(
    `  threads (events over the whole run): ` +
      totals.threads.map((t) => `#${t.thread} ${t.partitions.length} partitions, ${fmt(t.processed)} events`).join('; '),
  );
  out.push(
    `  stage B over the whole run: ${fmt(totals.stageB.processed ?? 0)} rollups, ${fmt(totals.stageB.late ?? 0)} late (hour already closed, not merged)`,
  );
  out.push(...describeTrace('catch-up', catchUpTrace));
  out.push(`  (preload producer: ${fmt(messages.length / (produceMs / 1000))} events/s, for reference)`);
  out.push('');
  out.push(
    `latency: ${fmt(latency.posts)} posts to the ingest service at ${rate}/s (${fmt(latency.eventsPerS)} events/s), ` +
      `${fmt(latency.samples.length)} session_cost anomalies measured after ${warmupPosts} warm-up posts` +
      (latency.missing > 0 ? `, ${latency.missing} never seen` : ''),
  );
  out.push(
    `  ingest 2xx -> anomaly read on ${TOPICS.anomalies.name}: ${q(latencyQ)}  target p99 <= ${TARGET_P99_MS} ms: ${pass(latencyOk)}`,
  );
  out.push(`  where it goes: HTTP post -> 2xx              ${q(quantiles(latency.http))}`);
  out.push(`                 2xx -> detector sends anomaly  ${q(quantiles(latency.detect))}`);
  out.push(`                 detector send -> read          ${q(quantiles(latency.deliver))}`);
  out.push(...describeTrace('latency phase', latency.trace));
  console.log(out.join('\n'));
}

/** CPU time (user + system) a process on this machine has used so far, from /proc (Linux). */
async function processCpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields, in clock ticks (100/s).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** The detector's wall time by step, as measured at its ports: what a slow figure is made of. */
function describeTrace(phase: string, t: Trace): string[] {
  const ms = (x: number): string => `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;
  const share = (x: Timing): string => `${Math.round((100 * x.totalMs) / t.spanMs)}%`;
  const line = (name: string, x: Timing): string =>
    `    ${name.padEnd(30)} ${String(x.count).padStart(6)} x  p50 ${ms(x.p50).padStart(8)}  p99 ${ms(x.p99).padStart(8)}  max ${ms(x.max).padStart(8)}  ` +
    `total ${ms(x.totalMs).padStart(9)} (${share(x)} of ${ms(t.spanMs)})`;
  return [
    `  detector wall time during the ${phase} (threads summed; ${Math.round(t.stageABatchSize.p50)} events per stage-A batch at p50; sends and snapshots run beside the batches):`,
    line('stage A batch handed over', t.stageABatch),
    line('stage B batch handed over', t.stageBBatch),
    ...Object.entries(t.send).map(([topic, x]) => line(`send to ${topic}`, x)),
    line('snapshot save (after stringify)', t.snapshotSave),
    line('offset commit', t.commit),
  ];
}

/** `burnrate topics apply` as deploys run it. Right after a broker start it can meet a topic it just created as unknown; it is idempotent, so it is run again. */
async function applyTopics(brokers: string): Promise<void> {
  let last = { code: null as number | null, output: '' };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await sleep(1000);
    last = await runToEnd([join(REPO, 'services', 'cli', 'src', 'main.ts'), 'topics', 'apply'], { KAFKA_BROKERS: brokers });
    if (last.code === 0) return;
  }
  throw new Error(`burnrate topics apply failed (exit ${last.code}):\n${last.output}`);
}

function runToEnd(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

async function produceAll(producer: Producer, topic: string, messages: readonly { key: string; value: string }[]): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < messages.length; i += SEND_CHUNK) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + SEND_CHUNK) });
  }
  return performance.now() - started;
}

/** A bare consumer group with kafkajs's defaults: the rate the client library itself reaches on this machine. */
async function plainConsume(kafka: Kafka, topic: string, expected: number): Promise<{ perSecond: number; perCpuSecond: number }> {
  const consumer = kafka.consumer({ groupId: `${topic}.group`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let count = 0;
    let first: number | undefined;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    let last = 0;
    let cpuAtFirst = process.cpuUsage();
    let cpuMs = 0;
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === undefined) {
          first = performance.now();
          cpuAtFirst = process.cpuUsage();
        }
        count += batch.messages.length;
        if (count >= expected && last === 0) {
          last = performance.now();
          const cpu = process.cpuUsage(cpuAtFirst);
          cpuMs = (cpu.user + cpu.system) / 1000;
          done();
        }
      },
    });
    await withTimeout(finished, 300_000, () => `the plain consumer read only ${count} of ${expected} events`);
    return { perSecond: expected / ((last - (first ?? last)) / 1000), perCpuSecond: expected / (cpuMs / 1000) };
  } finally {
    await consumer.disconnect();
  }
}

interface Instance {
  joinMs: number;
  threads: number;
  request<T extends InstanceReport['type']>(
    r: InstanceRequest,
    answer: T,
    timeoutMs: number,
  ): Promise<Extract<InstanceReport, { type: T }>>;
}

async function forkInstance(brokers: string, configPath: string, profileDir: string | undefined): Promise<Instance> {
  const child = fork(join(import.meta.dirname, 'detector-instance.ts'), [brokers, configPath], {
    env: { PATH: process.env.PATH ?? '', ...(threads !== undefined ? { BURNRATE_DETECTOR_THREADS: threads } : {}) },
    execArgv: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const output = tail(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  onExit('detector instance', async () => {
    if (gone()) return;
    // A clean stop leaves the group at once; a killed member would hold its partitions until the session timeout.
    if (child.connected) child.send({ type: 'stop' } satisfies InstanceRequest);
    if (!(await Promise.race([exited.then(() => true), sleep(30_000, false)]))) child.kill('SIGKILL');
    await exited;
  });
  const next = <T extends InstanceReport['type']>(type: T, timeoutMs: number): Promise<Extract<InstanceReport, { type: T }>> =>
    withTimeout(
      new Promise((resolve, reject) => {
        const onMessage = (m: InstanceReport): void => {
          if (m.type === 'failed') reject(new Error(`the detector instance failed: ${m.message}`));
          else if (m.type === type) resolve(m as Extract<InstanceReport, { type: T }>);
          else return;
          child.off('message', onMessage);
        };
        child.on('message', onMessage);
        void exited.then(() => reject(new Error(`the detector instance exited (${child.exitCode ?? child.signalCode}):\n${output()}`)));
      }),
      timeoutMs,
      () => `the detector instance sent no ${type} within ${timeoutMs} ms:\n${output()}`,
    );
  const started = await next('started', READY_TIMEOUT_MS);
  return {
    joinMs: started.joinMs,
    threads: started.threads,
    request: (r, answer, timeoutMs) => {
      const reply = next(answer, timeoutMs);
      child.send(r);
      return reply;
    },
  };
}

interface IngestProcess {
  port: number;
  stop(): Promise<void>;
}

/** The ingest service as docker-compose runs it; its port is read from its "listening" log line. */
async function startIngest(brokers: string, configPath: string): Promise<IngestProcess> {
  const child = spawn(process.execPath, [join(REPO, 'services', 'ingest', 'src', 'main.ts')], {
    env: {
      PATH: process.env.PATH ?? '',
      KAFKA_BROKERS: brokers,
      BURNRATE_CONFIG: configPath,
      BURNRATE_PORT: '0',
      BURNRATE_HOST: '127.0.0.1',
      BURNRATE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = tail(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(10_000, false)]))) child.kill('SIGKILL');
    await exited;
  };
  try {
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        child.stdout?.on('data', () => {
          const line = output()
            .split('\n')
            .find((l) => l.includes('"msg":"ingest is listening"'));
          if (line !== undefined) resolve((JSON.parse(line) as { port: number }).port);
        });
        void exited.then(() => reject(new Error(`the ingest service exited (${child.exitCode ?? child.signalCode}):\n${output()}`)));
      }),
      READY_TIMEOUT_MS,
      () => `the ingest service was not listening within ${READY_TIMEOUT_MS} ms:\n${output()}`,
    );
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The last lines a child printed, for error messages. */
function tail(child: ChildProcess): () => string {
  const lines: string[] = [];
  let partial = '';
  const take = (c: Buffer): void => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return () => [...lines, partial].join('\n');
}

interface LatencyResult {
  posts: number;
  eventsPerS: number;
  /** Ingest 2xx -> anomaly read, per measured session (ms). */
  samples: number[];
  /** Post sent -> 2xx. */
  http: number[];
  /** 2xx -> the detector's producer stamped the anomaly (Kafka record CreateTime). */
  detect: number[];
  /** That stamp -> the anomaly read here. */
  deliver: number[];
  missing: number;
  /** Where the detector's time went while the measured posts were sent. */
  trace: Trace;
}

interface Pending {
  sentAt: number;
  answeredAt?: number;
  seenAt?: number;
  stampedAt?: number;
  measured: boolean;
}

/**
 * Posts at a fixed schedule (open loop: a slow answer does not delay the next post, so a stall
 * shows in the figures instead of hiding). Each post carries `background` ordinary events and one
 * new session of three events, the third crossing its team's session_cost warning cap, so exactly
 * one v1 anomaly names that session. Timestamps are epoch ms with sub-ms precision, comparable
 * with the record timestamps kafkajs stamps in the detector process.
 */
async function measureLatency(
  kafka: Kafka,
  url: string,
  config: ReturnType<typeof generateScenario>['config'],
  trace: () => Promise<Trace>,
): Promise<LatencyResult> {
  const now = (): number => performance.timeOrigin + performance.now();
  const members = config.teams.flatMap((t) =>
    t.members.map((m) => ({
      email: typeof m === 'string' ? m : m.email,
      warning: detectorSettings(config, 'session_cost', { team: t.id }).warning_usd,
    })),
  );
  if (members.length === 0) throw new Error('the scenario config lists no member emails to post events for');
  const run = `${process.pid}-${Date.now()}`;
  const sessions = new Map<string, Pending>();

  const consumer: Consumer = kafka.consumer({ groupId: `bench-e2e-anomalies-${run}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topics: [TOPICS.anomalies.name], fromBeginning: false });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const at = now();
        for (const m of batch.messages) {
          const parsed = Anomaly.safeParse(JSON.parse(m.value?.toString('utf8') ?? 'null'));
          if (!parsed.success || parsed.data.kind !== 'session_cost' || parsed.data.version !== 1) continue;
          const p = sessions.get(parsed.data.subject.session ?? '');
          if (p === undefined || p.seenAt !== undefined) continue;
          p.seenAt = at;
          p.stampedAt = Number(m.timestamp);
        }
      },
    });
    await withTimeout(joined, READY_TIMEOUT_MS, () => 'the anomaly consumer did not join its group');

    const total = warmupPosts + measured;
    const interval = 1000 / rate;
    const posts: Promise<void>[] = [];
    let events = 0;
    let failure: Error | undefined;
    const start = performance.now();
    let measuring: Promise<Trace> | undefined;
    for (let i = 0; i < total && failure === undefined; i++) {
      // The detector's trace covers the measured posts only.
      if (i === warmupPosts) measuring = trace();
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const at = new Date().toISOString();
      const records: Record<string, unknown>[] = [];
      for (let b = 0; b < background; b++) {
        const m = members[(i * background + b) % members.length]!;
        records.push({
          event_id: `bench-e2e:${run}:bg:${i}:${b}`,
          occurred_at: at,
          developer_email: m.email,
          session_id: `bench-e2e-${run}-bg-${m.email}`,
          model: 'claude-sonnet-4-5-20250929',
          tool: 'claude-code',
          cost_usd: 0.01,
        });
      }
      const owner = members[i % members.length]!;
      const session = `bench-e2e-${run}-s${i}`;
      for (let t = 0; t < 3; t++) {
        records.push({
          event_id: `bench-e2e:${run}:s${i}:${t}`,
          occurred_at: at,
          developer_email: owner.email,
          session_id: session,
          model: 'claude-sonnet-4-5-20250929',
          tool: 'claude-code',
          // 0.4 of the cap per turn: below it after two turns, above it after the third.
          cost_usd: Math.round(owner.warning * 0.4 * 100) / 100,
        });
      }
      events += records.length;
      const pending: Pending = { sentAt: now(), measured: i >= warmupPosts };
      sessions.set(session, pending);
      posts.push(
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(records) }).then(
          async (res) => {
            pending.answeredAt = now();
            const body = await res.text();
            if (res.status !== 200) failure ??= new Error(`POST ${url} answered ${res.status}: ${body.slice(0, 500)}`);
          },
          (err: unknown) => {
            failure ??= new Error(`POST ${url} failed: ${(err as Error).message}`, { cause: err });
          },
        ),
      );
    }
    await Promise.all(posts);
    const sendingS = (performance.now() - start) / 1000;
    await measuring;
    const detectorTrace = await trace();
    if (failure !== undefined) throw failure;

    const deadline = performance.now() + DRAIN_TIMEOUT_MS;
    const waiting = (): number => [...sessions.values()].filter((p) => p.measured && p.seenAt === undefined).length;
    while (waiting() > 0 && performance.now() < deadline) await sleep(50);

    const done = [...sessions.values()].filter((p) => p.measured && p.seenAt !== undefined && p.answeredAt !== undefined);
    return {
      posts: total,
      eventsPerS: events / sendingS,
      samples: done.map((p) => p.seenAt! - p.answeredAt!),
      http: done.map((p) => p.answeredAt! - p.sentAt),
      detect: done.map((p) => p.stampedAt! - p.answeredAt!),
      deliver: done.map((p) => p.seenAt! - p.stampedAt!),
      missing: waiting(),
      trace: detectorTrace,
    };
  } finally {
    await consumer.disconnect();
  }
}

/** `message` is built when the time is up, so it can show what a child printed until then. */
async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  progress('interrupted; cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

main().then(
  async () => {
    await cleanUp();
    // kafkajs keeps timers for a while after disconnect; nothing is left to wait for.
    process.exit(0);
  },
  async (err: unknown) => {
    if (interrupted) return;
    process.stderr.write(`bench:e2e failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await cleanUp();
    process.exit(1);
  },
);
