import type { BackfillWindow } from '@burnrate/schemas';

/** The last late event of one stage-A partition in a window: once the store has it, it has the partition's others. */
export interface Witness {
  event_id: string;
  occurred_at: string;
  /**
   * Offset of the usage.backfill.v1 message that named it. One org's messages share a partition,
   * so of two witnesses of one stage-A partition the higher offset names the later event.
   */
  offset: bigint;
}

/** Late usage of one org waiting to be judged: every usage.backfill.v1 message merged into it. */
export interface PendingWindow {
  org: string;
  /** Event-time span of its late events (epoch ms, both inclusive). */
  from: number;
  to: number;
  /** Late events it stands for. */
  events: number;
  /** Wall time (epoch ms) of its first message and of its latest. */
  firstAt: number;
  lastAt: number;
  /** Not judged before this wall time (epoch ms): set when a judgement must wait or failed. */
  notBefore: number;
  /** Judgements tried and put back. */
  attempts: number;
  /** The latest witness per usage.events.v1 partition (`topic:partition`). */
  witnesses: Map<string, Witness>;
  /** Per usage.backfill.v1 partition, the earliest offset of a message merged in: committed only once judged. */
  offsets: Map<number, bigint>;
}

export interface WindowTiming {
  /** Judged once no message has come for it for this long (detectors.backfill.quiet). */
  quietMs: number;
  /** …or this long after its first message (detectors.backfill.max_wait). */
  maxWaitMs: number;
  /**
   * Windows of one org closer than this merge (detectors.backfill.warmup): each judgement replays
   * this much history before its window, so two apart by less would replay the same events twice.
   */
  mergeGapMs: number;
}

/** Pending windows kept per org; past it the two closest merge, so memory and work stay bounded. */
export const MAX_WINDOWS_PER_ORG = 16;

/**
 * Late usage gathered into windows to judge, per org. An import posts thousands of batches and a
 * poller catching up publishes every few minutes, and each stage-A batch with late events sends
 * its span: spans that overlap or lie close are merged, and a window is judged once its messages
 * stopped coming for `quietMs` (or, for a steady trickle, `maxWaitMs` after the first). Plain
 * bookkeeping with wall times given, no timers: the runner drives it.
 *
 * A window being judged (`take` to `done` or `retry`) is out of the merging: what comes for its
 * span meanwhile is a new window, judged after it (again, which the runner's dedupe makes harmless).
 */
export class BackfillWindows {
  private readonly pendingByOrg = new Map<string, PendingWindow[]>();
  private readonly judging = new Set<PendingWindow>();

  /** Merges one message's span into the org's pending windows. */
  add(message: BackfillWindow, at: { partition: number; offset: bigint }, now: number, timing: WindowTiming): void {
    const window: PendingWindow = {
      org: message.org,
      from: Date.parse(message.from),
      to: Date.parse(message.to),
      events: message.events,
      firstAt: now,
      lastAt: now,
      notBefore: 0,
      attempts: 0,
      witnesses: new Map([[message.source, { ...message.last_event, offset: at.offset }]]),
      offsets: new Map([[at.partition, at.offset]]),
    };
    this.insert(window, timing);
  }

  /** The window to judge now, if any (the one waiting longest), moved out of the pending ones until `done` or `retry`. */
  take(now: number, timing: WindowTiming): PendingWindow | undefined {
    let due: PendingWindow | undefined;
    for (const windows of this.pendingByOrg.values()) {
      for (const w of windows) {
        const ready = now >= w.notBefore && (now - w.lastAt >= timing.quietMs || now - w.firstAt >= timing.maxWaitMs);
        if (ready && (due === undefined || w.lastAt < due.lastAt)) due = w;
      }
    }
    if (due === undefined) return undefined;
    this.remove(due);
    this.judging.add(due);
    return due;
  }

  /** The window was judged: its messages may be committed. */
  done(window: PendingWindow): void {
    this.judging.delete(window);
  }

  /** The window could not be judged yet: pending again, merged with what came meanwhile, not before `notBefore`. */
  retry(window: PendingWindow, notBefore: number, timing: WindowTiming): void {
    this.judging.delete(window);
    this.insert({ ...window, notBefore, attempts: window.attempts + 1 }, timing);
  }

  /** The earliest offset of `partition` still waiting in a window (pending or being judged): commits stop before it. */
  earliestOffset(partition: number): bigint | undefined {
    let earliest: bigint | undefined;
    for (const w of this.all()) {
      const offset = w.offsets.get(partition);
      if (offset !== undefined && (earliest === undefined || offset < earliest)) earliest = offset;
    }
    return earliest;
  }

  /** Pending windows (not those being judged). */
  pending(): number {
    let n = 0;
    for (const windows of this.pendingByOrg.values()) n += windows.length;
    return n;
  }

  private *all(): Iterable<PendingWindow> {
    for (const windows of this.pendingByOrg.values()) yield* windows;
    yield* this.judging;
  }

  private insert(window: PendingWindow, timing: WindowTiming): void {
    const windows = this.pendingByOrg.get(window.org) ?? [];
    let merged = window;
    const rest: PendingWindow[] = [];
    for (const w of windows) {
      if (w.from - timing.mergeGapMs <= merged.to && merged.from <= w.to + timing.mergeGapMs) merged = merge(w, merged);
      else rest.push(w);
    }
    rest.push(merged);
    rest.sort((a, b) => a.from - b.from);
    while (rest.length > MAX_WINDOWS_PER_ORG) {
      let closest = 0;
      for (let i = 1; i < rest.length - 1; i++) {
        if (
          gap(rest[i] as PendingWindow, rest[i + 1] as PendingWindow) <
          gap(rest[closest] as PendingWindow, rest[closest + 1] as PendingWindow)
        )
          closest = i;
      }
      rest.splice(closest, 2, merge(rest[closest] as PendingWindow, rest[closest + 1] as PendingWindow));
    }
    this.pendingByOrg.set(window.org, rest);
  }

  private remove(window: PendingWindow): void {
    const windows = (this.pendingByOrg.get(window.org) ?? []).filter((w) => w !== window);
    if (windows.length === 0) this.pendingByOrg.delete(window.org);
    else this.pendingByOrg.set(window.org, windows);
  }
}

/** Event time between two windows sorted by `from` (negative when they overlap). */
const gap = (a: PendingWindow, b: PendingWindow): number => b.from - a.to;

/** One window covering both: the later witness of each stage-A partition, the earliest offset of each backfill partition. */
function merge(a: PendingWindow, b: PendingWindow): PendingWindow {
  const offsets = new Map(a.offsets);
  for (const [partition, offset] of b.offsets) {
    const known = offsets.get(partition);
    if (known === undefined || offset < known) offsets.set(partition, offset);
  }
  const witnesses = new Map(a.witnesses);
  for (const [source, witness] of b.witnesses) {
    const known = witnesses.get(source);
    if (known === undefined || witness.offset > known.offset) witnesses.set(source, witness);
  }
  return {
    org: a.org,
    from: Math.min(a.from, b.from),
    to: Math.max(a.to, b.to),
    events: a.events + b.events,
    firstAt: Math.min(a.firstAt, b.firstAt),
    lastAt: Math.max(a.lastAt, b.lastAt),
    notBefore: Math.max(a.notBefore, b.notBefore),
    attempts: Math.max(a.attempts, b.attempts),
    witnesses,
    offsets,
  };
}
