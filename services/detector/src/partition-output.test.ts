import type { OutgoingMessage, Producer } from '@burnrate/bus';
import { createLogger } from '@burnrate/core';
import { describe, expect, it } from 'vitest';
import { createPartitionOutput } from './partition-output.ts';

const silent = createLogger({ level: 'silent' });
const message = (key: string): OutgoingMessage => ({ key, value: key });

/** A producer that records what it sends and fails while `failing` is set. */
function recordingProducer(): Producer & { sends: string[]; failing: boolean } {
  const producer = {
    sends: [] as string[],
    failing: false,
    async send(topic: string, messages: readonly OutgoingMessage[]) {
      await Promise.resolve();
      if (producer.failing) throw new Error('broker unavailable');
      producer.sends.push(`${topic}: ${messages.map((m) => m.key).join(',')}`);
    },
  };
  return producer;
}

describe('createPartitionOutput', () => {
  it('sends each topic in the order it was first queued, and counts what the bus acknowledged', async () => {
    const producer = recordingProducer();
    const acknowledged: string[] = [];
    const output = createPartitionOutput({
      producer,
      log: silent,
      name: 'test',
      partition: 0,
      acknowledged: (topic, count) => void acknowledged.push(`${topic} ${count}`),
    });
    output.outbox.push('anomalies', message('a1'));
    output.outbox.push('rollups', message('r1'));
    output.outbox.push('anomalies', message('a2'));
    expect(output.hasPending()).toBe(true);
    output.flushInBackground();
    expect(await output.flushing()).toBe(true);
    expect(producer.sends).toEqual(['anomalies: a1,a2', 'rollups: r1']);
    expect(acknowledged).toEqual(['anomalies 2', 'rollups 1']);
    expect(output.hasPending()).toBe(false);
  });

  it('keeps what a failed send did not get out, and sends it before anything newer once the bus is back', async () => {
    const producer = recordingProducer();
    const output = createPartitionOutput({ producer, log: silent, name: 'test', partition: 0, acknowledged: () => undefined });
    output.outbox.push('anomalies', message('a1'));
    producer.failing = true;
    output.flushInBackground();
    expect(await output.flushing()).toBe(false);
    expect(output.hasPending()).toBe(true);
    await expect(output.settle()).rejects.toThrow('broker unavailable');

    producer.failing = false;
    await output.settle();
    output.outbox.push('anomalies', message('a2'));
    output.flushInBackground();
    expect(await output.flushing()).toBe(true);
    expect(producer.sends).toEqual(['anomalies: a1', 'anomalies: a2']);
  });
});
