import type { Anomaly } from '@burnrate/schemas';

/** Anomaly versions one stage raised since start, by kind, severity and status (open or resolved). */
export interface AnomalyCount {
  kind: string;
  severity: string;
  status: string;
  count: number;
}

export interface AnomalyTally {
  note(a: Pick<Anomaly, 'kind' | 'severity' | 'status'>): void;
  counts(): AnomalyCount[];
}

export function createAnomalyTally(): AnomalyTally {
  const counts = new Map<string, AnomalyCount>();
  return {
    note(a) {
      const key = `${a.kind}\n${a.severity}\n${a.status}`;
      const entry = counts.get(key) ?? { kind: a.kind, severity: a.severity, status: a.status, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    },
    counts: () => [...counts.values()].map((c) => ({ ...c })),
  };
}

/** What a stage holds now, over the partitions this member holds: keys per detector kind, and its furthest-behind watermark. */
export interface TrackedState {
  keys: Record<string, number>;
  /** The oldest of its partitions' watermarks (event time); null when none has one yet. */
  watermark: string | null;
}

/** One stage's partitions' engine stats as one TrackedState. */
export function trackedOf(partitions: Iterable<{ keys: Readonly<Record<string, number>>; watermark: string | null }>): TrackedState {
  const tracked: TrackedState = { keys: {}, watermark: null };
  for (const p of partitions) addTracked(tracked, p);
  return tracked;
}

/** Adds `more` into `into`: keys summed, the older watermark kept (threads of one instance, or stages of the same topic). */
export function addTracked(into: TrackedState, more: { keys: Readonly<Record<string, number>>; watermark: string | null }): void {
  for (const [kind, n] of Object.entries(more.keys)) into.keys[kind] = (into.keys[kind] ?? 0) + n;
  if (more.watermark !== null && (into.watermark === null || more.watermark < into.watermark)) into.watermark = more.watermark;
}
