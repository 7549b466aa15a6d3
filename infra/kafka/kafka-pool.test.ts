import { describe, expect, it } from 'vitest';
import { createKafkaPool, type KafkaPoolOptions } from './kafka-pool.ts';
import type { TestKafka } from './test-kafka.ts';

/** A pool over stand-in brokers: what it started, reset and stopped, in order. */
function pool(options: Partial<KafkaPoolOptions> = {}) {
  const events: string[] = [];
  let n = 0;
  const p = createKafkaPool({
    env: {},
    start: async () => {
      const brokers = `127.0.0.1:${String(9000 + ++n)}`;
      events.push(`start ${brokers}`);
      const kafka: TestKafka = { brokers, via: 'local', local: undefined, stop: async () => void events.push(`stop ${brokers}`) };
      return kafka;
    },
    reset: async (brokers) => void events.push(`reset ${brokers}`),
    ...options,
  });
  return { p, events };
}

describe('the pool of test brokers', () => {
  it('lends one broker to suite after suite, resetting it for each', async () => {
    const { p, events } = pool();
    const first = await p.lease();
    first.release();
    const second = await p.lease();
    expect(second.brokers).toBe(first.brokers);
    expect(second.id).not.toBe(first.id);
    second.release();
    await p.close();
    expect(events).toEqual(['start 127.0.0.1:9001', 'reset 127.0.0.1:9001', 'reset 127.0.0.1:9001', 'stop 127.0.0.1:9001']);
    expect(p.started).toBe(1);
  });

  it('starts a second broker only while the first is lent, and lends the idle one after', async () => {
    const { p } = pool();
    const [a, b] = await Promise.all([p.lease(), p.lease()]);
    expect(new Set([a.brokers, b.brokers]).size).toBe(2);
    b.release();
    const c = await p.lease();
    expect(c.brokers).toBe(b.brokers);
    expect(p.started).toBe(2);
    a.release();
    a.release(); // a second release of the same lease hands nothing back twice
    const [d, e] = await Promise.all([p.lease(), p.lease()]);
    expect(p.started).toBe(3);
    expect(new Set([c.brokers, d.brokers, e.brokers]).size).toBe(3);
    await p.close();
  });

  it('makes suites take turns on a broker given in KAFKA_BROKERS', async () => {
    const given: TestKafka = { brokers: '10.0.0.1:9092', via: 'KAFKA_BROKERS', local: undefined, stop: async () => {} };
    const { p, events } = pool({ env: { KAFKA_BROKERS: given.brokers }, start: async () => given });
    const first = await p.lease();
    let secondLent = false;
    const second = p.lease().then((l) => {
      secondLent = true;
      return l;
    });
    await new Promise((r) => setImmediate(r));
    expect(secondLent).toBe(false);
    first.release();
    expect((await second).brokers).toBe('10.0.0.1:9092');
    expect(events).toEqual(['reset 10.0.0.1:9092', 'reset 10.0.0.1:9092']);
    await p.close();
  });

  it('fails every lease with the reason when the broker cannot start, trying once', async () => {
    let attempts = 0;
    const { p } = pool({
      start: async () => {
        attempts += 1;
        throw new Error('java: not found');
      },
    });
    await expect(p.lease()).rejects.toThrow('the test broker did not start: java: not found');
    await expect(p.lease()).rejects.toThrow('the test broker did not start: java: not found');
    expect(attempts).toBe(1);
  });

  it('hands a broker back when its reset fails, and says which broker', async () => {
    let fail = true;
    const { p } = pool({
      reset: async () => {
        if (fail) throw new Error('consumer groups g still had members');
      },
    });
    await expect(p.lease()).rejects.toThrow('could not reset the test broker at 127.0.0.1:9001: consumer groups g still had members');
    fail = false;
    expect((await p.lease()).brokers).toBe('127.0.0.1:9001');
    expect(p.started).toBe(1);
  });
});
