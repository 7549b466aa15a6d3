import { createHash } from 'node:crypto';
import { BurnrateError } from '@burnrate/core';
import { fromDateTime64, insertRows, toDateTime64, toNumber, type SqlExecutor } from '../executor.ts';
import { type DetectorSnapshot, MAX_SNAPSHOT_PART_BYTES, type StoredDetectorSnapshot } from '../port.ts';

/**
 * Detector snapshots as parts and a manifest (infra/clickhouse/0009_detector_snapshot_parts.sql):
 * a save writes every part into the slot the current manifest does not name, blanks that slot's
 * leftover parts from an older, larger snapshot, and only then writes the manifest that makes it
 * the key's snapshot. A reader takes the latest manifest and reads its parts one query each,
 * checking the count and the checksum, so it sees a whole generation or an error, never a mix.
 */
export const SNAPSHOT_PARTS_TABLE = 'detector_snapshot_parts_v1';
export const SNAPSHOT_MANIFESTS_TABLE = 'detector_snapshot_manifests_v1';
/** Whole-JSON snapshots of 0007, read for keys saved before parts (latest saved_at per key wins). */
export const LEGACY_SNAPSHOTS_TABLE = 'detector_snapshots_v1';

export interface SnapshotPartRow {
  snapshot_key: string;
  slot: number;
  part: number;
  generation: number;
  body: string;
}

export interface SnapshotManifestRow {
  snapshot_key: string;
  generation: number | string;
  slot: number;
  parts: number;
  bytes: number | string;
  sha256: string;
  other_slot_parts: number;
  source_offset: string;
  saved_at: string;
}

interface LegacySnapshotRow {
  snapshot_key: string;
  source_offset: string;
  state: string;
  saved_at: string;
}

/** Generations order saves of a key: saved_at in ms, then the order of saves within one ms. */
const PER_MS = 1000;

/**
 * The generation of a save at `savedAtMs` after the current manifest: greater than the current
 * one unless the save is older than it (a writer whose clock is behind), which then stays
 * unread, as a row with an older saved_at was in detector_snapshots_v1.
 */
export function nextGeneration(savedAtMs: number, current: number | undefined): number {
  const base = savedAtMs * PER_MS;
  if (current === undefined || base > current) return base;
  return Math.floor(current / PER_MS) > savedAtMs ? base : current + 1;
}

async function latestManifest(exec: SqlExecutor, key: string): Promise<SnapshotManifestRow | undefined> {
  const rows = await exec.query<SnapshotManifestRow>(
    `SELECT snapshot_key, generation, slot, parts, bytes, sha256, other_slot_parts, source_offset, saved_at
       FROM ${SNAPSHOT_MANIFESTS_TABLE}
      WHERE snapshot_key = {key:String}
      ORDER BY generation DESC
      LIMIT 1`,
    { key },
  );
  return rows[0];
}

export async function saveSnapshot(exec: SqlExecutor, snapshot: DetectorSnapshot): Promise<void> {
  const { key, parts } = snapshot;
  if (parts.length === 0) throw new BurnrateError('INPUT_INVALID', `detector snapshot ${key} has no parts`);
  let bytes = 0;
  parts.forEach((part, i) => {
    const size = Buffer.byteLength(part);
    if (size > MAX_SNAPSHOT_PART_BYTES) {
      throw new BurnrateError(
        'INPUT_TOO_LARGE',
        `detector snapshot ${key}: part ${i} is ${size} bytes, more than the ${MAX_SNAPSHOT_PART_BYTES} a row takes`,
      );
    }
    bytes += size;
  });
  const current = await latestManifest(exec, key);
  const slot = current === undefined ? 0 : 1 - current.slot;
  const generation = nextGeneration(Date.parse(snapshot.saved_at), current === undefined ? undefined : toNumber(current.generation));
  const hash = createHash('sha256');
  // One row per insert: the block (and chdb's copy of it) stays the size of one part.
  for (let part = 0; part < parts.length; part++) {
    const body = parts[part] as string;
    hash.update(body);
    await insertRows(exec, SNAPSHOT_PARTS_TABLE, [{ snapshot_key: key, slot, part, generation, body } satisfies SnapshotPartRow]);
  }
  // What an older, larger snapshot left in this slot beyond our parts: blanked, so merges drop it.
  const leftover = current?.other_slot_parts ?? 0;
  if (leftover > parts.length) {
    const blanks: SnapshotPartRow[] = [];
    for (let part = parts.length; part < leftover; part++) blanks.push({ snapshot_key: key, slot, part, generation, body: '' });
    await insertRows(exec, SNAPSHOT_PARTS_TABLE, blanks);
  }
  const manifest: SnapshotManifestRow = {
    snapshot_key: key,
    generation,
    slot,
    parts: parts.length,
    bytes,
    sha256: hash.digest('hex'),
    other_slot_parts: current?.parts ?? 0,
    source_offset: snapshot.offset,
    saved_at: toDateTime64(snapshot.saved_at),
  };
  await insertRows(exec, SNAPSHOT_MANIFESTS_TABLE, [manifest]);
}

export async function loadSnapshot(exec: SqlExecutor, key: string): Promise<StoredDetectorSnapshot | undefined> {
  const manifest = await latestManifest(exec, key);
  if (manifest !== undefined) {
    return {
      key,
      offset: manifest.source_offset,
      saved_at: fromDateTime64(manifest.saved_at),
      partCount: manifest.parts,
      parts: () => readParts(exec, manifest),
    };
  }
  const rows = await exec.query<LegacySnapshotRow>(
    `SELECT snapshot_key, source_offset, state, saved_at FROM ${LEGACY_SNAPSHOTS_TABLE} FINAL
      WHERE snapshot_key = {key:String} LIMIT 1`,
    { key },
  );
  const legacy = rows[0];
  if (legacy === undefined) return undefined;
  // The whole state as one JSON text: the detector reads a single part that is not a part as that.
  return {
    key,
    offset: legacy.source_offset,
    saved_at: fromDateTime64(legacy.saved_at),
    partCount: 1,
    parts: async function* () {
      yield legacy.state;
    },
  };
}

async function* readParts(exec: SqlExecutor, manifest: SnapshotManifestRow): AsyncGenerator<string, void, undefined> {
  const key = manifest.snapshot_key;
  const generation = String(manifest.generation);
  const hash = createHash('sha256');
  for (let part = 0; part < manifest.parts; part++) {
    const rows = await exec.query<{ body: string }>(
      `SELECT body FROM ${SNAPSHOT_PARTS_TABLE}
        WHERE snapshot_key = {key:String} AND slot = {slot:UInt8} AND part = {part:UInt32} AND generation = {generation:UInt64}
        LIMIT 1`,
      { key, slot: manifest.slot, part, generation },
    );
    const body = rows[0]?.body;
    if (body === undefined) {
      throw new BurnrateError(
        'SNAPSHOT_UNREADABLE',
        `detector snapshot ${key} (generation ${generation}): part ${part} of ${manifest.parts} is missing; another writer may have replaced it`,
      );
    }
    hash.update(body);
    yield body;
  }
  const digest = hash.digest('hex');
  if (digest !== manifest.sha256) {
    throw new BurnrateError(
      'SNAPSHOT_UNREADABLE',
      `detector snapshot ${key} (generation ${generation}): its parts do not match the checksum saved with them`,
    );
  }
}
