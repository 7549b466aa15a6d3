import { mergeBucket, type HourBucket } from '../buckets/hourly.ts';

/**
 * What arrived at the current watermark, not yet given to the detectors (the snapshot's
 * `pending`), one merged bucket per key. Held as two arrays (keys, buckets; insertion order): it
 * is emptied at nearly every rollup (each one moves the watermark) and mostly holds one or two
 * buckets, so arrays emptied in place beat an object (a fresh one given a new long key each time
 * made V8 build a hidden class per key) or a Map (a new table per clear). A Map indexes the keys
 * only once there are more than a scan should visit.
 */
export interface PendingBuckets {
  size(): number;
  bucketAt(i: number): HourBucket;
  /** Positions in the order the detectors take them: by hour, then key. */
  stepOrder(): number[];
  /** Holds the bucket of a key not held yet. */
  add(key: string, bucket: HourBucket): void;
  /** Merges `delta` into the bucket held for `key`, or holds `delta` itself; returns the bucket held. */
  merge(key: string, delta: HourBucket): HourBucket;
  clear(): void;
  /** Changes at every clear: a bucket remembered from another generation is no longer held. */
  generation(): number;
  toRecord(): Record<string, HourBucket>;
}

/** Pending buckets looked up by a scan up to this many; a Map beyond. */
const PENDING_SCAN = 8;

export function createPendingBuckets(): PendingBuckets {
  const keys: string[] = [];
  const buckets: HourBucket[] = [];
  let index: Map<string, number> | null = null;
  let generation = 0;

  /** Position of `key`, or -1. */
  const indexOf = (key: string): number => {
    if (index !== null) return index.get(key) ?? -1;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return i;
    return -1;
  };

  const add = (key: string, bucket: HourBucket): void => {
    keys.push(key);
    buckets.push(bucket);
    if (index !== null) index.set(key, keys.length - 1);
    else if (keys.length > PENDING_SCAN) index = new Map(keys.map((k, i) => [k, i]));
  };

  return {
    size: () => keys.length,
    bucketAt: (i) => buckets[i] as HourBucket,
    stepOrder() {
      const order = keys.map((_, i) => i);
      order.sort((a, b) => byHourThenKey(keys[a] as string, buckets[a] as HourBucket, keys[b] as string, buckets[b] as HourBucket));
      return order;
    },
    add,
    merge(key, delta) {
      const at = indexOf(key);
      if (at >= 0) return mergeBucket(buckets[at] as HourBucket, delta);
      add(key, delta);
      return delta;
    },
    clear() {
      keys.length = 0;
      buckets.length = 0;
      index = null;
      generation += 1;
    },
    generation: () => generation,
    toRecord() {
      const record: Record<string, HourBucket> = {};
      for (let i = 0; i < keys.length; i++) record[keys[i] as string] = buckets[i] as HourBucket;
      return record;
    },
  };
}

function byHourThenKey(ka: string, a: HourBucket, kb: string, b: HourBucket): number {
  return a.hour - b.hour || (ka < kb ? -1 : ka > kb ? 1 : 0);
}
