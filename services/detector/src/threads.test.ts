import { describe, expect, it } from 'vitest';
import { declaredPartitions } from '@burnrate/bus';
import { createLogger, parseConfig } from '@burnrate/core';
import { TOPICS } from '@burnrate/schemas';
import { createDetectorThreads, readDetectorThreads } from './threads.ts';

describe('readDetectorThreads', () => {
  const partitions = declaredPartitions(TOPICS.usageEvents.name);

  it('defaults to the CPUs available, at most one thread per partition of usage.events.v1', () => {
    expect(readDetectorThreads({}, 2)).toBe(2);
    expect(readDetectorThreads({ BURNRATE_DETECTOR_THREADS: ' ' }, 1)).toBe(1);
    expect(readDetectorThreads({}, partitions + 20)).toBe(partitions);
  });

  it('takes a whole number from 1 to the partitions', () => {
    expect(readDetectorThreads({ BURNRATE_DETECTOR_THREADS: '3' }, 2)).toBe(3);
    expect(readDetectorThreads({ BURNRATE_DETECTOR_THREADS: String(partitions) }, 2)).toBe(partitions);
  });

  it.each(['0', '-1', '1.5', 'two', String(partitions + 1)])('refuses %j, naming the variable and the range', (raw) => {
    expect(() => readDetectorThreads({ BURNRATE_DETECTOR_THREADS: raw }, 2)).toThrow(
      `BURNRATE_DETECTOR_THREADS must be a whole number from 1 to ${partitions} (the partitions of usage.events.v1), not ${JSON.stringify(raw)}`,
    );
  });
});

describe('createDetectorThreads', () => {
  it('fails the start with the thread’s own error, naming the thread, and leaves no thread running', async () => {
    const failures: Error[] = [];
    const pool = createDetectorThreads({
      count: 2,
      settings: {
        brokers: ['127.0.0.1:1'],
        config: parseConfig('org: acme'),
        configOrigin: 'test',
        // A store the thread cannot open: it fails while wiring, before it joins any group.
        snapshots: { kind: 'chdb', dataDir: '/dev/null/burnrate' },
        logLevel: 'silent',
      },
      log: createLogger({ level: 'silent' }),
      onFailure: (err) => failures.push(err),
    });
    await expect(pool.start()).rejects.toThrow(/^detector thread [12]: ENOTDIR: .*\/dev\/null\/burnrate/);
    // Nothing started, so nothing answers and nothing was reported as a later failure.
    expect(await pool.status()).toEqual([]);
    expect(await pool.stop()).toBeUndefined();
    expect(failures).toEqual([]);
  });
});
