/**
 * Each source's (stage-A partition's) watermark, and the team engine's watermark made from them:
 * the lowest of the sources that are not idle (see "Time" and "Idle sources" in team-engine.ts).
 */

export interface SourceClock {
  watermark: number;
  received: number | null;
}

/** The part of the engine's state the clocks live in (snapshotted with it). */
export interface ClockedState {
  watermark: number | null;
  sources?: Record<string, SourceClock>;
}

export interface SourceClocks {
  /** Records the source's watermark; returns where the engine's watermark should be: the lowest of the live sources. */
  heardFrom(state: ClockedState, name: string, carried: number, receivedAt: number | undefined): number;
  /** Sources that hold the watermark back now (not idle), as of the latest rollup received. */
  live(sources: Record<string, SourceClock>): number;
}

export function createSourceClocks(idleSourceMs: number, expectedSources: readonly string[]): SourceClocks {
  /** Wall clock of the latest rollup received (the `now` idleness is judged at). */
  let lastReceived: number | undefined;

  const isIdle = (source: SourceClock, now: number | undefined): boolean =>
    now !== undefined && source.received !== null && now - source.received > idleSourceMs;

  return {
    heardFrom(state, name, carried, receivedAt) {
      let sources = state.sources;
      if (sources === undefined || (state.watermark === null && Object.keys(sources).length === 0)) {
        // A cold start: the partitions that have not spoken yet are at the start of time.
        sources = state.sources = {};
        for (const expected of expectedSources) sources[expected] = { watermark: 0, received: receivedAt ?? null };
      }
      const source = sources[name];
      if (source === undefined) sources[name] = { watermark: carried, received: receivedAt ?? null };
      else {
        if (carried > source.watermark) source.watermark = carried;
        if (receivedAt !== undefined) source.received = receivedAt;
      }
      if (receivedAt !== undefined) lastReceived = receivedAt;
      let lowest = Number.POSITIVE_INFINITY;
      for (const n in sources) {
        const s = sources[n] as SourceClock;
        if (s.watermark < lowest && !isIdle(s, receivedAt)) lowest = s.watermark;
      }
      return lowest;
    },

    live(sources) {
      let live = 0;
      for (const name in sources) if (!isIdle(sources[name] as SourceClock, lastReceived)) live += 1;
      return live;
    },
  };
}
