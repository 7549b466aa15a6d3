import { mergeBucket, type HourBucket } from '../buckets/hourly.ts';

/**
 * Differences from sources ahead of the watermark (the snapshot's `ahead`): by the time they
 * arrived at, then by key, merged per key. Time moves forward through them from the earliest.
 */
export interface HeldAhead {
  /** Differences held. */
  size(): number;
  /** Holds a difference that arrived at `due`, merged with what is held for its key at that time. */
  hold(due: number, key: string, delta: HourBucket): void;
  /** The earliest time anything is held for; undefined when nothing is. */
  firstDue(): number | undefined;
  /** The latest time anything is held for; undefined when nothing is. */
  lastDue(): number | undefined;
  /** Removes and returns what is held for firstDue(), by key. */
  takeFirst(): Map<string, HourBucket>;
  toRecord(): Record<string, Record<string, HourBucket>>;
  /** Replaces what is held with a snapshot's `ahead`. */
  restore(record: Record<string, Record<string, HourBucket>>): void;
}

export function createHeldAhead(): HeldAhead {
  let byDue = new Map<number, Map<string, HourBucket>>();
  /** The keys of `byDue`, ascending. */
  let dues: number[] = [];
  /**
   * Dues at the front already taken: time often passes several in a row, and one splice for all
   * of them costs less than one per due (the array may hold thousands while a source catches up).
   */
  let taken = 0;
  let held = 0;

  const compact = (): void => {
    if (taken === 0) return;
    dues.splice(0, taken);
    taken = 0;
  };

  return {
    size: () => held,

    hold(due, key, delta) {
      compact();
      let byKey = byDue.get(due);
      if (byKey === undefined) {
        byKey = new Map();
        byDue.set(due, byKey);
        // Mostly the newest time yet (each source's watermark only grows): a push; else a binary search.
        if (dues.length === 0 || due > (dues[dues.length - 1] as number)) dues.push(due);
        else {
          let lo = 0;
          let hi = dues.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if ((dues[mid] as number) < due) lo = mid + 1;
            else hi = mid;
          }
          dues.splice(lo, 0, due);
        }
      }
      const waiting = byKey.get(key);
      if (waiting !== undefined) mergeBucket(waiting, delta);
      else {
        byKey.set(key, delta);
        held += 1;
      }
    },

    firstDue: () => (taken < dues.length ? dues[taken] : undefined),
    lastDue: () => (taken < dues.length ? dues[dues.length - 1] : undefined),

    takeFirst() {
      const due = dues[taken++] as number;
      const byKey = byDue.get(due) as Map<string, HourBucket>;
      byDue.delete(due);
      held -= byKey.size;
      return byKey;
    },

    toRecord() {
      const record: Record<string, Record<string, HourBucket>> = {};
      for (const [due, byKey] of byDue) record[String(due)] = Object.fromEntries(byKey);
      return record;
    },

    restore(record) {
      byDue = new Map();
      held = 0;
      for (const [due, byKey] of Object.entries(record)) {
        const entries = Object.entries(byKey);
        byDue.set(Number(due), new Map(entries));
        held += entries.length;
      }
      dues = [...byDue.keys()].sort((a, b) => a - b);
      taken = 0;
    },
  };
}
