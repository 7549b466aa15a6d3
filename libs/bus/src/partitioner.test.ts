import { describe, expect, it } from 'vitest';
import { murmur2, partitionFor } from './partitioner.ts';

// Values produced by Kafka's Java client (org.apache.kafka.common.utils.Utils.murmur2).
const JAVA_MURMUR2: Record<string, number> = {
  '0': 971027396,
  '1': -1993445489,
  '128': -326012175,
  '2187': -1508407203,
  '16384': -325739742,
  '78125': -1654490814,
  '279936': 1462227128,
  '100:48069': 1009543857,
};

describe('murmur2', () => {
  it.each(Object.entries(JAVA_MURMUR2))('hashes %s as the Java client does', (key, expected) => {
    expect(murmur2(new TextEncoder().encode(key))).toBe(expected);
  });

  it('keeps a key on one partition and spreads keys across partitions', () => {
    expect(partitionFor('acme:alice@acme.com', 6)).toBe(partitionFor('acme:alice@acme.com', 6));
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionFor(`acme:dev${i}`, 6)));
    expect(used.size).toBe(6);
    expect(partitionFor('anything', 1)).toBe(0);
  });
});
