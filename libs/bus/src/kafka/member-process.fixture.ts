/**
 * A consumer-group member in its own process, for the integration test that kills one with
 * SIGKILL mid-batch: no LeaveGroup, no commit, no onRevoked. Not part of the package.
 *
 * argv: brokers groupId topic. Prints one JSON line per event on stdout: `{"assigned":[…]}`,
 * `{"handled":["offset",…]}`, `{"blocked":"offset"}` when a chunk starting at offset 10 arrives,
 * which then never completes.
 */
import { createLogger } from '@burnrate/core';
import { createKafkaBus } from './kafka-bus.ts';

const [brokers, groupId, topic] = process.argv.slice(2);
if (brokers === undefined || groupId === undefined || topic === undefined)
  throw new Error('usage: member-process.fixture.ts BROKERS GROUP TOPIC');
const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);

const bus = createKafkaBus({
  brokers,
  clientId: 'member-process',
  log: createLogger({ level: 'silent' }),
  consumer: { heartbeatIntervalMs: 300, sessionTimeoutMs: 6000, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 200 },
});
const subscription = bus.subscribe({
  groupId,
  topics: [topic],
  maxBatchSize: 5,
  onAssigned: async (partitions) => say({ assigned: partitions.map((p) => p.partition) }),
  handleBatch: async (batch) => {
    if (batch.messages[0]?.offset === '10') {
      say({ blocked: '10', partition: batch.partition });
      await new Promise(() => {});
    }
    say({ handled: batch.messages.map((m) => m.offset), partition: batch.partition });
  },
});
await subscription.start();
say({ started: true });
