/**
 * Where the detector keeps its state between runs: one snapshot per consumed partition, with the
 * offset it reflects, as the ordered text parts of snapshot-codec.ts. The port is the detector's
 * own; `snapshotStoreFrom` adapts the Store port (chdb or ClickHouse) to it, the Kafka changelog
 * (`@burnrate/runtime`) implements it directly, and `createMemorySnapshotStore` is the twin for tests.
 *
 * A store saves a snapshot's parts all or nothing: until `save` resolves, `load` returns the
 * previous complete snapshot, whatever happened to the process in between.
 */

export interface SavedSnapshot {
  /** The last offset the state reflects; consumption resumes after it. */
  offset: string;
  /**
   * The parts in order, read as they are iterated (a large snapshot is never held whole). The
   * iteration throws SNAPSHOT_UNREADABLE when a part is missing or does not match what was saved;
   * other errors are the store's own.
   */
  parts: AsyncIterable<string>;
}

export interface SnapshotToSave {
  key: string;
  offset: string;
  /** Each at most `maxPartBytes` UTF-8 bytes. */
  parts: readonly string[];
}

export interface SnapshotStore {
  /** The largest part the store takes, in UTF-8 bytes; the detector splits state to fit. Unset: the codec's default (8 MiB). */
  readonly maxPartBytes?: number;
  load(key: string): Promise<SavedSnapshot | undefined>;
  /** Resolves once every part is durable and the snapshot is the key's latest: offsets are committed only after it. */
  save(snapshot: SnapshotToSave): Promise<void>;
}

/** `detector:usage.events.v1:3`: a snapshot belongs to one partition of one topic. */
export const snapshotKey = (topic: string, partition: number): string => `detector:${topic}:${partition}`;

export interface StoredParts {
  offset: string;
  parts: readonly string[];
}

/** Parts as they arrive, for stores and twins that hold them in memory. */
export async function* iterateParts(parts: readonly string[]): AsyncGenerator<string, void, undefined> {
  for (const part of parts) yield part;
}

export function createMemorySnapshotStore(
  options: { maxPartBytes?: number } = {},
): SnapshotStore & { readonly saved: ReadonlyMap<string, StoredParts> } {
  const saved = new Map<string, StoredParts>();
  return {
    saved,
    ...(options.maxPartBytes !== undefined ? { maxPartBytes: options.maxPartBytes } : {}),
    load(key) {
      const s = saved.get(key);
      return Promise.resolve(s === undefined ? undefined : { offset: s.offset, parts: iterateParts(s.parts) });
    },
    save({ key, offset, parts }) {
      saved.set(key, { offset, parts: [...parts] });
      return Promise.resolve();
    },
  };
}

/** The part of the Store port that holds detector snapshots (structural, so this package does not depend on an adapter). */
export interface SnapshotTable {
  /** The largest part a row takes. */
  readonly maxSnapshotPartBytes?: number;
  saveSnapshot(snapshot: { key: string; offset: string; parts: readonly string[]; saved_at: string }): Promise<void>;
  loadSnapshot(key: string): Promise<{ offset: string; parts(): AsyncIterable<string> } | undefined>;
}

export function snapshotStoreFrom(table: SnapshotTable, now: () => Date): SnapshotStore {
  return {
    ...(table.maxSnapshotPartBytes !== undefined ? { maxPartBytes: table.maxSnapshotPartBytes } : {}),
    async load(key) {
      const found = await table.loadSnapshot(key);
      return found === undefined ? undefined : { offset: found.offset, parts: found.parts() };
    },
    save: ({ key, offset, parts }) => table.saveSnapshot({ key, offset, parts, saved_at: now().toISOString() }),
  };
}
