/**
 * Where the detector keeps its state between runs: one snapshot per consumed partition, with the
 * offset it reflects. The port is the detector's own; `snapshotStoreFrom` adapts the Store port
 * (chdb or ClickHouse) to it, and `createMemorySnapshotStore` is the twin for tests.
 */

export interface SavedSnapshot {
  /** The last offset the state reflects; consumption resumes after it. */
  offset: string;
  /** The engine snapshot as JSON text. */
  state: string;
}

export interface SnapshotStore {
  load(key: string): Promise<SavedSnapshot | undefined>;
  /** Resolves once the snapshot is durable: offsets are committed only after it. */
  save(snapshot: { key: string; offset: string; state: string }): Promise<void>;
}

/** `detector:usage.events.v1:3`: a snapshot belongs to one partition of one topic. */
export const snapshotKey = (topic: string, partition: number): string => `detector:${topic}:${partition}`;

export function createMemorySnapshotStore(): SnapshotStore & { readonly saved: ReadonlyMap<string, SavedSnapshot> } {
  const saved = new Map<string, SavedSnapshot>();
  return {
    saved,
    load: (key) => Promise.resolve(saved.get(key)),
    save: ({ key, offset, state }) => {
      saved.set(key, { offset, state });
      return Promise.resolve();
    },
  };
}

/** The part of the Store port that holds detector snapshots (structural, so this package does not depend on an adapter). */
export interface SnapshotTable {
  saveSnapshot(snapshot: { key: string; offset: string; state: string; saved_at: string }): Promise<void>;
  loadSnapshot(key: string): Promise<{ offset: string; state: string } | undefined>;
}

export function snapshotStoreFrom(table: SnapshotTable, now: () => Date): SnapshotStore {
  return {
    async load(key) {
      const row = await table.loadSnapshot(key);
      return row === undefined ? undefined : { offset: row.offset, state: row.state };
    },
    save: ({ key, offset, state }) => table.saveSnapshot({ key, offset, state, saved_at: now().toISOString() }),
  };
}
