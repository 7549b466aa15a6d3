import { setTimeout as sleep } from 'node:timers/promises';
import { translateKafkaError } from '@burnrate/bus';
import type { Logger } from '@burnrate/core';
import kafkajs, { type Admin, Kafka, logLevel } from 'kafkajs';
import {
  declareTopics,
  describeChange,
  type ExistingTopic,
  planTopicChanges,
  type TopicChange,
  type TopicDeclaration,
  topicEnvironment,
} from '@burnrate/bus';
import type { CommandIO } from './config-command.ts';

// kafkajs's index spreads these in a way Node's CommonJS export detection cannot see, so they are
// not named exports under ESM.
const { ConfigResourceTypes, ConfigSource } = kafkajs;

export interface TopicsEnv {
  brokers: string | undefined;
  /** KAFKA_REPLICATION_FACTOR / KAFKA_MIN_INSYNC_REPLICAS, as given. */
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
}

export interface ApplyResult {
  applied: TopicChange[];
  warnings: string[];
}

/**
 * `burnrate topics apply [--dry-run]`: makes the cluster's topics match libs/bus/src/kafka/topics.ts and
 * prints one line per change, or `no changes`. Safe to run on every deploy.
 */
export async function topicsCommand(args: readonly string[], env: TopicsEnv, io: CommandIO): Promise<number> {
  const [sub, ...rest] = args.filter((a) => !a.startsWith('--'));
  const dryRun = args.includes('--dry-run');
  if (sub !== 'apply' || rest.length > 0) {
    io.err('usage: burnrate topics apply [--dry-run]   (KAFKA_BROKERS names the cluster)');
    return 2;
  }
  if (!env.brokers) {
    io.err('KAFKA_BROKERS is not set: burnrate topics apply needs the broker list, e.g. KAFKA_BROKERS=127.0.0.1:9092');
    return 2;
  }
  let declared: TopicDeclaration[];
  try {
    declared = declareTopics(topicEnvironment(env.env));
  } catch (err) {
    io.err((err as Error).message);
    return 2;
  }
  const result = await applyTopics({ brokers: env.brokers, declared, dryRun, log: env.log });
  for (const w of result.warnings) io.err(`warning: ${w}`);
  if (result.applied.length === 0) io.out('no changes');
  for (const c of result.applied) io.out(`${dryRun ? 'would apply: ' : ''}${describeChange(c)}`);
  return 0;
}

export async function applyTopics(options: {
  brokers: string;
  declared: readonly TopicDeclaration[];
  dryRun?: boolean;
  log: Logger;
}): Promise<ApplyResult> {
  const kafka = new Kafka({
    clientId: 'burnrate-topics',
    brokers: options.brokers
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
    logLevel: logLevel.WARN,
    logCreator: kafkaWarnings(options.log),
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (err) {
    throw translateKafkaError(err, { operation: 'connect admin (topics apply)' });
  }
  try {
    // A topic created a moment ago (by this run, or a service starting beside it) can still be
    // unknown to the broker's metadata (kafkajs #815, #1222): read, plan and apply again, from what
    // is there now, a few times before giving up. Every step is idempotent.
    const applied: TopicChange[] = [];
    // A create that failed on such a race has often created the topic: the next reading finds it,
    // and it is reported as created all the same.
    let racedCreate: Extract<TopicChange, { kind: 'create' }> | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const existing = await readTopics(
          admin,
          options.declared.map((t) => t.name),
        );
        const plan = planTopicChanges(options.declared, existing);
        const raced = racedCreate;
        if (raced !== undefined && existing.some((t) => t.name === raced.topic.name)) applied.push(raced);
        racedCreate = undefined;
        if (!options.dryRun) {
          for (const change of plan.changes) {
            racedCreate = change.kind === 'create' ? change : undefined;
            await applyChange(admin, change);
            racedCreate = undefined;
            applied.push(change);
          }
        }
        return { applied: options.dryRun ? plan.changes : applied, warnings: plan.warnings };
      } catch (err) {
        if (attempt >= METADATA_ATTEMPTS || !isMetadataRace(err)) throw err;
        options.log.warn({ err, attempt }, 'topic metadata not settled yet; reading the topics again');
        await sleep(METADATA_BACKOFF_MS * attempt);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

const METADATA_ATTEMPTS = 5;
const METADATA_BACKOFF_MS = 500;

function isMetadataRace(err: unknown): boolean {
  const kafkaError = (err as { details?: { kafkaError?: unknown } }).details?.kafkaError;
  return kafkaError === 'UNKNOWN_TOPIC_OR_PARTITION' || kafkaError === 'LEADER_NOT_AVAILABLE';
}

async function readTopics(admin: Admin, names: readonly string[]): Promise<ExistingTopic[]> {
  try {
    const all = new Set(await admin.listTopics());
    const present = names.filter((n) => all.has(n));
    if (present.length === 0) return [];
    const [metadata, configs] = await Promise.all([
      admin.fetchTopicMetadata({ topics: present }),
      admin.describeConfigs({ includeSynonyms: false, resources: present.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })) }),
    ]);
    return metadata.topics.map((t) => {
      const resource = configs.resources.find((r) => r.resourceName === t.name);
      const overrides: Record<string, string> = {};
      for (const e of resource?.configEntries ?? []) {
        // Only settings made on the topic itself; broker defaults are not the topic's to change.
        if (e.configSource === ConfigSource.TOPIC_CONFIG) overrides[e.configName] = e.configValue;
      }
      return {
        name: t.name,
        partitions: t.partitions.length,
        replicationFactor: Math.min(...t.partitions.map((p) => p.replicas.length)),
        overrides,
      };
    });
  } catch (err) {
    throw translateKafkaError(err, { operation: 'describe topics', topic: names.join(',') });
  }
}

async function applyChange(admin: Admin, change: TopicChange): Promise<void> {
  const topic = change.kind === 'create' ? change.topic.name : change.topic;
  try {
    switch (change.kind) {
      case 'create':
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: change.topic.name,
              numPartitions: change.topic.partitions,
              replicationFactor: change.topic.replicationFactor,
              configEntries: Object.entries(change.topic.config).map(([name, value]) => ({ name, value })),
            },
          ],
        });
        return;
      case 'add-partitions':
        await admin.createPartitions({ topicPartitions: [{ topic: change.topic, count: change.to }] });
        return;
      case 'set-config':
        // AlterConfigs (not incremental) replaces the topic's overrides with this complete set.
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: change.topic,
              configEntries: Object.entries(change.config).map(([name, value]) => ({ name, value })),
            },
          ],
        });
        return;
    }
  } catch (err) {
    throw translateKafkaError(err, { operation: `topics apply (${change.kind})`, topic });
  }
}

function kafkaWarnings(log: Logger) {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return () =>
    ({ level, namespace, log: entry }: { level: logLevel; namespace: string; log: { message: string } }) => {
      if (level === logLevel.ERROR) kafkaLog.error({ namespace }, entry.message);
      else if (level === logLevel.WARN) kafkaLog.warn({ namespace }, entry.message);
    };
}
