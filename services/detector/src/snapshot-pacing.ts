const DEFAULT_MAX_SNAPSHOT_EVERY_MS = 30_000;
/** A snapshot costing c ms (c at least COSTLY_SNAPSHOT_MS) is followed by the next no sooner than this many times c. */
const SNAPSHOT_COST_FACTOR = 20;
/** Cheaper snapshots keep to snapshotEveryMs (at the default 1 s, one costing up to 50 ms is 5% anyway). */
const COSTLY_SNAPSHOT_MS = 25;
/**
 * Serialising holds the partition (its batches wait), so whatever maxSnapshotEveryMs says, the
 * next snapshot is at least this many times the serialising time away: a partition of millions of
 * keys (a minute to serialise) is not snapshotted back to back.
 */
const SERIALISE_SHARE_FACTOR = 10;

/** How often a partition is snapshotted (see PartitionedConsumerDeps). */
export interface SnapshotPacing {
  snapshotEveryMs: number;
  /** At least snapshotEveryMs. */
  maxSnapshotEveryMs: number;
}

export function snapshotPacing(snapshotEveryMs: number, maxSnapshotEveryMs: number | undefined): SnapshotPacing {
  return { snapshotEveryMs, maxSnapshotEveryMs: Math.max(snapshotEveryMs, maxSnapshotEveryMs ?? DEFAULT_MAX_SNAPSHOT_EVERY_MS) };
}

/**
 * Wall time from a snapshot to the next, given what this one cost: serialising (`serialisedMs`,
 * the partition held) plus compressing and writing (`costMs` in all).
 */
export function nextSnapshotInterval(pacing: SnapshotPacing, costMs: number, serialisedMs: number): number {
  // Serialising, compressing and writing the whole state: ~5% of the time at most, and the
  // partition held for serialising no more than a tenth of it.
  return costMs < COSTLY_SNAPSHOT_MS
    ? pacing.snapshotEveryMs
    : Math.max(
        Math.min(pacing.maxSnapshotEveryMs, Math.max(pacing.snapshotEveryMs, SNAPSHOT_COST_FACTOR * costMs)),
        SERIALISE_SHARE_FACTOR * serialisedMs,
      );
}
