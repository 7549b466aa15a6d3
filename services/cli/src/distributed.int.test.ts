import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore, type Store } from '@burnrate/store';
import {
  type SlackStandIn,
  startSlackStandIn,
  startSmtpServer,
  tempDir,
  type TempDir,
  type TestSmtpServer,
  waitUntil,
} from '@burnrate/testing';
import { kafkaAvailable, leaseKafka, type SuiteKafka } from '../../../infra/kafka/suite-kafka.ts';
import { postJson, TEST_CONFIG } from '../test-support/burnrate-process.ts';
import { declareTopics, type TopicDeclaration } from '@burnrate/bus';
import { waitForNoLag } from '../test-support/distributed-stack.ts';
import { runCli, type ServiceProcess, startService } from '../test-support/service-process.ts';
import { applyTopics } from './topics-command.ts';

// The four standalone services as child processes over one Kafka broker, the way
// docker-compose runs them. Without a ClickHouse server each process that needs a store gets its
// own chdb directory (chdb binds one per process): the sink owns the one with events, anomalies
// and the DLQ, the notifier keeps its delivery log in another, and the detector keeps its
// snapshots on the compacted detector-state.v1 topic. In a deployment they all share one server.
// The broker is lent by the run's pool (infra/kafka/suite-kafka.ts), reset: no topic, no group.
// Under CI=true a broker that cannot start fails the suite.
/**
 * The groups an event passes through on its way to a notification, upstream first: once each has
 * committed the end of its input (the detector commits only after the output it made is on the
 * bus), everything posted before has been handled and every resulting delivery made.
 */
const PIPELINE = {
  'burnrate-detector': ['usage.events.v1'],
  'burnrate-team-detector': ['usage.rollups.v1'],
  'burnrate-notifier': ['anomalies.v1'],
};

describe.skipIf(!kafkaAvailable.shared)('distributed mode: standalone services over Kafka', () => {
  let broker: SuiteKafka | undefined;
  let brokers: string;
  let dir: TempDir;
  let smtp: TestSmtpServer;
  let slack: SlackStandIn;
  let producer: Producer;
  const services = new Map<string, ServiceProcess>();
  let ingestUrl: string;
  let sinkDir: string;
  let store: Store | undefined;
  const session = `session-${randomUUID().slice(0, 8)}`;
  const firstApply = { code: null as number | null, stdout: '', stderr: '' };

  beforeAll(async () => {
    broker = await leaseKafka();
    brokers = broker.brokers;
    dir = await tempDir();
    [smtp, slack] = await Promise.all([startSmtpServer(), startSlackStandIn()]);
    const configPath = join(dir.path, 'burnrate.yaml');
    await writeFile(configPath, TEST_CONFIG);

    Object.assign(firstApply, await runCli(['topics', 'apply'], { KAFKA_BROKERS: brokers }));
    expect(firstApply.code, firstApply.stderr).toBe(0);

    const common = { KAFKA_BROKERS: brokers, BURNRATE_CONFIG: configPath };
    const health = { BURNRATE_HEALTH_PORT: '0', BURNRATE_HEALTH_HOST: '127.0.0.1' };
    sinkDir = join(dir.path, 'sink');
    const started = await Promise.all([
      startService('sink', { ...common, ...health, BURNRATE_DATA_DIR: sinkDir, BURNRATE_SINK_MAX_DELAY_MS: '200' }),
      startService('detector', { ...common, ...health }),
      startService('notifier', {
        ...common,
        ...health,
        BURNRATE_DATA_DIR: join(dir.path, 'notifier'),
        SMTP_URL: smtp.url,
        SMTP_FROM: 'burnrate@acme.com',
        SLACK_BOT_TOKEN: slack.token,
        SLACK_API_URL: slack.url,
      }),
      startService('ingest', { ...common, BURNRATE_PORT: '0', BURNRATE_HOST: '127.0.0.1' }),
    ]);
    for (const s of started) services.set(s.name, s);
    ingestUrl = `http://127.0.0.1:${String(services.get('ingest')!.ready.port)}`;

    producer = new Kafka({ clientId: 'distributed-int', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    // Reverse of the data flow, so nothing is left half-handled; each stops on SIGTERM.
    for (const name of ['ingest', 'detector', 'notifier', 'sink']) await services.get(name)?.stop();
    await store?.close();
    await slack?.close();
    await smtp?.close();
    await dir?.cleanup();
    await broker?.release();
  });

  const events = (costs: number[], from = 0) =>
    costs.map((cost_usd, i) => ({
      occurred_at: new Date(Date.UTC(2026, 10, 27, 10, from + i)).toISOString(),
      developer_email: 'alice@acme.com',
      model: 'claude-opus-4-5',
      session_id: session,
      cost_usd,
    }));

  it('topics apply created every declared topic, and a second run changes nothing', async () => {
    // The lent broker was reset: it had none of them.
    for (const topic of ['usage.events.v1', 'usage.dlq.v1', 'usage.rollups.v1', 'anomalies.v1', 'anomaly-state.v1', 'detector-state.v1']) {
      expect(firstApply.stdout).toContain(`created ${topic} `);
    }
    expect(firstApply.stdout).toMatch(/created anomalies\.v1 .*cleanup\.policy=compact/);
    expect(firstApply.stdout).toMatch(/created detector-state\.v1 .*cleanup\.policy=compact/);
    const again = await runCli(['topics', 'apply'], { KAFKA_BROKERS: brokers });
    expect(again).toMatchObject({ code: 0, stdout: 'no changes\n' });
  });

  it('topics apply adds partitions and repairs drifted configs, leaving what it cannot change as a warning', async () => {
    const log = createLogger({ level: 'silent' });
    const name = `topics-int.${randomUUID().slice(0, 8)}`;
    const base = declareTopics({ replicationFactor: 1, minInsyncReplicas: 1 }).find((t) => t.name === 'anomalies.v1')!;
    const declared: TopicDeclaration = { ...base, name, partitions: 2 };
    expect((await applyTopics({ brokers, declared: [declared], log })).applied.map((c) => c.kind)).toEqual(['create']);

    const admin = new Kafka({ clientId: 'topics-int', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      // Someone changed the topic by hand: a different compaction lag and an extra override.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: 2, // ConfigResourceTypes.TOPIC
            name,
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'min.compaction.lag.ms', value: '5' },
              { name: 'retention.bytes', value: '1000000' },
            ],
          },
        ],
      });
      const grown = { ...declared, partitions: 4, replicationFactor: 3 };
      const dry = await applyTopics({ brokers, declared: [grown], dryRun: true, log });
      expect(dry.applied.map((c) => c.kind)).toEqual(['add-partitions', 'set-config']);
      const fixed = await applyTopics({ brokers, declared: [grown], log });
      expect(fixed.applied).toEqual([
        { kind: 'add-partitions', topic: name, from: 2, to: 4 },
        {
          kind: 'set-config',
          topic: name,
          config: declared.config,
          changed: [
            { name: 'min.compaction.lag.ms', from: '5', to: '86400000' },
            { name: 'min.insync.replicas', from: undefined, to: '1' },
            { name: 'retention.bytes', from: '1000000', to: undefined },
          ],
        },
      ]);
      expect(fixed.warnings).toEqual([expect.stringMatching(new RegExp(`^${name.replace('.', '\\.')} has replication factor 1, not 3`))]);
      const [meta] = (await admin.fetchTopicMetadata({ topics: [name] })).topics;
      expect(meta?.partitions).toHaveLength(4);
      expect((await applyTopics({ brokers, declared: [{ ...grown, replicationFactor: 1 }], log })).applied).toEqual([]);
    } finally {
      await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('answers /healthz on every worker with its consumer groups and their lag', async () => {
    const groups: Record<string, string[]> = {
      detector: ['burnrate-detector', 'burnrate-team-detector'],
      notifier: ['burnrate-notifier'],
      sink: ['burnrate-sink'],
    };
    for (const [name, expected] of Object.entries(groups)) {
      const s = services.get(name)!;
      const port = Number(s.logged('health endpoint listening on /healthz')[0]?.port);
      expect(port, `${name} logged its health port`).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
      const body = (await res.json()) as { status: string; service: string; consumers: { group: string; lag: number }[] };
      expect(res.status).toBe(200);
      expect(body.status).toBe('ok');
      expect(body.service).toBe(name);
      expect(body.consumers.map((c) => c.group).sort()).toEqual(expected);
      for (const c of body.consumers) expect(c.lag).toBeGreaterThanOrEqual(0);
      if (name === 'sink') expect(body).toMatchObject({ store: 'ok' });
    }
  });

  it('every service answered ready with what it runs', () => {
    expect(services.get('sink')!.ready).toMatchObject({ group: 'burnrate-sink', store: expect.stringContaining('chdb') });
    expect(services.get('detector')!.ready).toMatchObject({
      groups: ['burnrate-detector', 'burnrate-team-detector'],
      snapshots: 'kafka topic detector-state.v1',
    });
    expect(services.get('notifier')!.ready).toMatchObject({ group: 'burnrate-notifier', slack: 'on', email: expect.stringMatching(/^on/) });
    expect(services.get('ingest')!.ready).toMatchObject({ port: expect.any(Number) });
  });

  it('dead-letters poison messages produced straight to the topics, and the consumers keep going', async () => {
    // Same key as the scenario below, so the poison sits on the partition the session then uses.
    const key = 'acme:alice@acme.com';
    await producer.send({
      topic: 'usage.events.v1',
      acks: -1,
      messages: [
        { key, value: '{"event_id": "half' },
        { key, value: JSON.stringify({ event_id: 'e-1', org: 'acme', cost_usd: 'a lot' }) },
      ],
    });
    await producer.send({
      topic: 'anomalies.v1',
      acks: -1,
      messages: [
        { key: 'bad-1', value: 'not json at all' },
        { key: 'bad-2', value: JSON.stringify({ id: 'bad-2', version: 'one', kind: 'session_cost' }) },
      ],
    });
    const notifier = services.get('notifier')!;
    await waitUntil(() => notifier.logged('invalid anomaly record sent to the DLQ').length >= 2, {
      timeoutMs: 15_000,
      message: 'the notifier dead-letters both bad anomalies',
    });
    const reasons = notifier.logged('invalid anomaly record sent to the DLQ').map((l) => String(l.reason));
    expect(reasons.some((r) => r.startsWith('not JSON'))).toBe(true);
    expect(reasons.some((r) => r.includes('version'))).toBe(true);
    const detector = services.get('detector')!;
    await waitUntil(() => detector.logged('usage event is not JSON; skipped').length === 1, {
      timeoutMs: 15_000,
      message: 'detector skips bad JSON',
    });
    await waitUntil(() => detector.logged('usage event failed validation; skipped').length === 1, {
      timeoutMs: 15_000,
      message: 'detector skips a wrong-schema event',
    });
  });

  it('turns a session crossing $25 then $100 into one anomaly, v1 warning then v2 critical, on Slack and email', async () => {
    const first = await postJson(`${ingestUrl}/v1/events`, events([10, 10, 10]));
    expect(first).toEqual({ status: 200, body: { accepted: 3, duplicates: 0, rejected: [] } });
    const warning = await slack.waitFor((m) => m.channelName === '#payments-ai-spend', 20_000);
    expect(warning.text).toMatch(/warning/i);

    const second = await postJson(`${ingestUrl}/v1/events`, events([40, 35], 3));
    expect(second.status).toBe(200);
    await waitUntil(() => slack.messages.length >= 2, { timeoutMs: 20_000, message: 'the critical Slack message' });
    await waitUntil(() => smtp.messages.length >= 2, { timeoutMs: 20_000, message: 'two emails' });
    // Every stage has handled and committed everything, so a duplicate delivery would be here by now.
    await waitForNoLag(brokers, PIPELINE);

    expect(slack.messages.map((m) => m.channelName)).toEqual(['#payments-ai-spend', '#payments-ai-spend']);
    expect(slack.messages[1]?.text).toMatch(/critical/i);
    expect(smtp.messages.map((m) => m.to)).toEqual([['payments-leads@acme.com'], ['payments-leads@acme.com']]);
    expect(smtp.messages[0]?.headers['x-burnrate-severity']).toBe('warning');
    expect(smtp.messages[1]?.headers['x-burnrate-severity']).toBe('critical');
    expect(smtp.messages[1]?.text).toContain('alice@acme.com');
  });

  it('a restarted detector restores its state from detector-state.v1 and does not alert again', async () => {
    const common = { KAFKA_BROKERS: brokers, BURNRATE_CONFIG: join(dir.path, 'burnrate.yaml') };
    expect(await services.get('detector')!.stop()).toBe(0);
    const detector = await startService('detector', common);
    services.set('detector', detector);
    await waitUntil(() => detector.logged('partition state loaded').length >= 18, {
      timeoutMs: 15_000,
      message: 'all 12 + 6 partitions loaded',
    });
    const restored = detector.logged('partition state loaded').filter((l) => l.component === 'detector' && l.offset !== null);
    expect(restored.length).toBeGreaterThanOrEqual(1);
    expect(restored.some((l) => ((l.keys as Record<string, number>).session_cost ?? 0) >= 1)).toBe(true);

    const more = await postJson(`${ingestUrl}/v1/events`, events([5], 10));
    expect(more.status).toBe(200);
    // Once the event went through the detector and whatever it emitted through the notifier: a
    // detector that had lost the session would have opened a new episode and alerted again.
    await waitForNoLag(brokers, PIPELINE);
    expect(slack.messages).toHaveLength(2);
    expect(smtp.messages).toHaveLength(2);
  });

  it('the sink wrote events, both anomaly versions and the poison (with its reason) to the store', async () => {
    // The sink flushes on SIGTERM and commits; then its chdb directory is free to open here.
    expect(await services.get('sink')!.stop()).toBe(0);
    store = await createChdbStore({ dataDir: join(sinkDir, 'chdb'), log: createLogger({ level: 'silent' }) });

    expect(await store.countUsageEvents({ session_id: session })).toBe(6);
    const [anomaly] = await store.listAnomalies({ kind: 'session_cost' });
    expect(anomaly).toMatchObject({ subject: { developer: 'alice@acme.com', session: session }, severity: 'critical' });
    const versions = await store.anomalyVersions(anomaly!.id);
    expect(versions.map((v) => [v.version, v.severity])).toEqual([
      [1, 'warning'],
      [2, 'critical'],
    ]);

    const badEvents = await store.listDlq({ source: 'topic:usage.events.v1' });
    expect(badEvents).toHaveLength(2);
    expect(badEvents.map((d) => d.raw).sort()).toEqual(
      ['{"event_id": "half', JSON.stringify({ event_id: 'e-1', org: 'acme', cost_usd: 'a lot' })].sort(),
    );
    for (const d of badEvents) expect(d.reason).toMatch(/^message at usage\.events\.v1\/\d+@\d+ does not match usage\.events\.v1$/);
    expect(badEvents.flatMap((d) => d.issues.map((i) => i.message)).join('\n')).toMatch(/not JSON/);
    expect(badEvents.flatMap((d) => d.issues.map((i) => i.path))).toContain('cost_usd');

    const badAnomalies = await store.listDlq({ source: 'topic:anomalies.v1' });
    expect(badAnomalies.map((d) => d.raw).sort()).toEqual(
      [JSON.stringify({ id: 'bad-2', version: 'one', kind: 'session_cost' }), 'not json at all'].sort(),
    );
  });

  it('stops every service cleanly on SIGTERM', async () => {
    for (const name of ['ingest', 'detector', 'notifier']) {
      const s = services.get(name)!;
      expect(await s.stop(), s.logs.slice(-10).join('\n')).toBe(0);
      expect(s.logged(`${name} stopped cleanly`)).toHaveLength(1);
    }
  });
});
