/**
 * How a detector's snapshots are going, for /healthz. A snapshot that fails leaves its
 * partition's offsets uncommitted at the last saved snapshot: consumption goes on (as far as the
 * bus holds), but a restart replays everything since, so a failure must show, not stall silently.
 */
export interface SnapshotHealth {
  /** Snapshots that could not be serialised or saved since start, every attempt counted. */
  failures: number;
  /** Partitions held here whose latest snapshot attempt failed, as `topic:partition`. */
  failing: string[];
  lastError: { at: string; partition: string; message: string } | null;
  /** Wall time of the last snapshot saved, of any partition. */
  lastSavedAt: string | null;
}

/** What /healthz says about the detector (snake_case, as the rest of the answer). */
export interface DetectorHealthReport {
  snapshot_failures: number;
  /** Non-empty: the answer's status is `degraded`. */
  failing_partitions: string[];
  last_snapshot_error: { at: string; partition: string; message: string } | null;
  last_snapshot_at: string | null;
}

/** Several stages' or threads' snapshot health as one: counts added, the latest error and save kept. */
export function combineSnapshotHealth(all: readonly SnapshotHealth[]): SnapshotHealth {
  const combined: SnapshotHealth = { failures: 0, failing: [], lastError: null, lastSavedAt: null };
  for (const h of all) {
    combined.failures += h.failures;
    combined.failing.push(...h.failing);
    if (h.lastError !== null && (combined.lastError === null || h.lastError.at > combined.lastError.at)) combined.lastError = h.lastError;
    if (h.lastSavedAt !== null && (combined.lastSavedAt === null || h.lastSavedAt > combined.lastSavedAt))
      combined.lastSavedAt = h.lastSavedAt;
  }
  combined.failing.sort();
  return combined;
}

/** The detector's part of /healthz, and whether it makes the whole answer `degraded` (a partition whose snapshots fail now). */
export function detectorHealth(health: SnapshotHealth): { degraded: boolean; detector: DetectorHealthReport } {
  return {
    degraded: health.failing.length > 0,
    detector: {
      snapshot_failures: health.failures,
      failing_partitions: health.failing,
      last_snapshot_error: health.lastError,
      last_snapshot_at: health.lastSavedAt,
    },
  };
}
