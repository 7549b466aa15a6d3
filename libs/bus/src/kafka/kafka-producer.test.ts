import { createServer, type Server, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createKafkaProducer } from './kafka-producer.ts';

const log = createLogger({ level: 'silent' });

/** A "broker" that accepts connections and never answers, as a hung or half-started one does. */
async function silentBroker(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${String(port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Kafka producer send timeout', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('rejects a send Kafka does not answer within sendTimeoutMs as retriable, with a Retry-After', async () => {
    const broker = await silentBroker();
    cleanups.push(() => broker.close());
    // kafkajs alone would wait its 30 s request timeout, then retry.
    const kafka = new Kafka({
      clientId: 'timeout-test',
      brokers: [broker.address],
      logLevel: logLevel.NOTHING,
      requestTimeout: 2000,
      retry: { retries: 0 },
    });
    const producer = createKafkaProducer({ kafka, log, sendTimeoutMs: 300, retries: 0 });
    cleanups.push(() => producer.close());

    const started = Date.now();
    const sends = [producer.send('usage.events.v1', [{ key: 'k', value: 'v' }]), producer.send('usage.dlq.v1', [{ key: 'k', value: 'd' }])];
    const [first, second] = await Promise.allSettled(sends);
    const elapsed = Date.now() - started;

    expect(first).toMatchObject({ status: 'rejected', reason: { code: 'BUS_UNAVAILABLE', retriable: true, retryAfterMs: 1000 } });
    expect((first as PromiseRejectedResult).reason.message).toContain('usage.events.v1');
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'BUS_UNAVAILABLE', retriable: true } });
    expect((second as PromiseRejectedResult).reason.message).toContain('usage.dlq.v1');
    // Both were queued together and answered at the first timeout, not one timeout after another.
    expect(elapsed).toBeLessThan(2000);
  });

  it('refuses sends once closed', async () => {
    const kafka = new Kafka({ clientId: 'closed-test', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });
    const producer = createKafkaProducer({ kafka, log, sendTimeoutMs: 300, retries: 0 });
    await producer.close();
    await expect(producer.send('t', [{ key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'BUS_CLOSED' });
  });
});
