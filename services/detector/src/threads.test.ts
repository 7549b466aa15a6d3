import { describe, expect, it } from 'vitest';
import { usageEventPartitions } from './instance.ts';
import { readDetectorThreads } from './threads.ts';

describe('readDetectorThreads', () => {
  const partitions = usageEventPartitions();

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
