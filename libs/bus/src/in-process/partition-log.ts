import { join } from 'node:path';
import { BurnrateError } from '@burnrate/core';
import type { ConsumedMessage, OutgoingMessage } from '../port.ts';
import { describeIoError, type LogFile, type LogFs, nodeLogFs, writeFully } from './log-fs.ts';

/** One line of a segment file. Short keys keep the log compact; it is never read by humans. */
interface LogLine {
  o: number;
  k: string;
  v: string;
  h?: Record<string, string>;
  t: number;
}

export interface PartitionLogOptions {
  topic: string;
  partition: number;
  /** Directory for this partition's segments and group offsets; undefined keeps it in memory. */
  dir: string | undefined;
  /** fdatasync each group commit, so an acknowledged send survives power loss, not only kill -9. */
  fsync: boolean;
  segmentBytes: number;
  /** The file system; a test passes one that fails on purpose. */
  fs?: LogFs;
}

/** Why the log cannot take appends right now: the last write's error, since when, how many tries. */
export interface WriteFailure {
  message: string;
  since: number;
  attempts: number;
}

interface PendingAppend {
  /** Each record serialised without its offset (`"k":…}`): offsets are given only when the batch is written. */
  tails: string[];
  messages: readonly OutgoingMessage[];
  timestamp: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SEGMENT_SUFFIX = '.log';
const segmentName = (baseOffset: number): string => `${String(baseOffset).padStart(20, '0')}${SEGMENT_SUFFIX}`;
const MIN_RETRY_AFTER_MS = 1_000;
const MAX_RETRY_AFTER_MS = 30_000;

/**
 * An append-only, segmented log for one partition: the in-process stand-in for a Kafka partition.
 *
 * Appends from concurrent senders are group-committed: whatever queued while the previous write
 * was in flight goes out in one write (and one fdatasync), and every sender's promise resolves
 * only after that. Messages stay in memory from the lowest committed group offset onward;
 * segments wholly below every group's position are deleted.
 *
 * A write that fails (a full disk, an I/O error) fails closed and recovers by itself:
 * - offsets are given to records only when their batch is written, and the segment's length is
 *   only advanced once the write (and fdatasync) succeeded, so a failure leaves no offset gap;
 * - the segment is cut back to its last good length, so no torn or refused record stays in it;
 *   if that cut itself fails, nothing more is written until it succeeds (tried before each write);
 * - every sender of the batch gets a retriable BUS_UNAVAILABLE with `retryAfterMs`, and the next
 *   append simply tries again, so the log resumes once space returns.
 * After a crash, a trailing partial line (a write cut before it was acknowledged) is dropped on
 * open; whole lines of a refused batch whose cut had failed come back, which is safe: their
 * senders got an error and retry with the same event ids, which every consumer deduplicates.
 */
/** Messages per partition, newest first, that keep the producer's decoded value (see ConsumedMessage.decoded). */
const DECODED_WINDOW = 4096;

export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  private readonly options: PartitionLogOptions;
  private readonly fs: LogFs;
  /** Messages from `baseOffset` onward; index = offset - baseOffset. */
  private messages: ConsumedMessage[] = [];
  private baseOffset = 0;
  /** The offset the next written record gets; everything below it is on disk. */
  private nextOffset = 0;
  private readonly committed = new Map<string, number>();
  /** Per group, the commit in progress: commits of one group write one file, in order. */
  private readonly commits = new Map<string, Promise<void>>();
  private readonly waiters = new Set<() => void>();
  /** The segment appended to; `bytes` is its last known-good length. */
  private segment: { file: LogFile; base: number; bytes: number } | undefined;
  /** Set while the segment may hold bytes past `segment.bytes` (a failed write whose cut failed too). */
  private tailDirty = false;
  private failure: WriteFailure | undefined;
  private segments: number[] = [];
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(options: PartitionLogOptions) {
    this.options = options;
    this.fs = options.fs ?? nodeLogFs;
    this.topic = options.topic;
    this.partition = options.partition;
  }

  get highWatermark(): number {
    return this.nextOffsetVisible();
  }

  /** The lowest offset still readable; a position below it starts here (Kafka's `earliest`). */
  get earliestOffset(): number {
    return this.baseOffset;
  }

  /** Why appends fail at the moment; undefined once a write succeeded again. */
  writeFailure(): WriteFailure | undefined {
    return this.failure && { ...this.failure };
  }

  /** Reads segments and group offsets back from disk. */
  async open(): Promise<void> {
    const dir = this.options.dir;
    if (!dir) return;
    const fs = this.fs;
    await fs.mkdir(dir);
    const names = await fs.readdir(dir);
    for (const name of names) {
      const m = /^(.+)\.offset$/.exec(name);
      if (!m?.[1]) continue;
      // Offsets are written to a temporary file and renamed, but without fsync a power loss can
      // still leave an empty file; a group without a position replays from the earliest offset.
      const text = (await fs.readFile(join(dir, name))).toString('utf8').trim();
      if (/^\d+$/.test(text)) this.committed.set(decodeURIComponent(m[1]), Number(text));
    }
    this.segments = names
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => Number(n.slice(0, -SEGMENT_SUFFIX.length)))
      .sort((a, b) => a - b);
    const keepFrom = this.minCommitted();
    let first = true;
    let lastSize = 0;
    for (const [i, base] of this.segments.entries()) {
      const path = join(dir, segmentName(base));
      // Offsets are contiguous across segments and within them: an index into `messages` is
      // offset - baseOffset. A segment is named after its first offset, and may be empty (a
      // write into a new segment that failed), so its name still says where the log stands.
      if (i === 0) this.nextOffset = base;
      else if (base !== this.nextOffset) throw this.corrupt(path, 0, `a segment starting at ${base} where ${this.nextOffset} was expected`);
      const data = await fs.readFile(path);
      const end = data.lastIndexOf(0x0a) + 1;
      if (end < data.length) {
        // A write that never completed: it was not acknowledged, so dropping it loses nothing.
        // Cut in place: rewriting the file would need free space the disk may not have.
        if (i < this.segments.length - 1) throw this.corrupt(path, end, 'a partial record before the last segment');
        await fs.truncate(path, end);
      }
      lastSize = end;
      let at = 0;
      for (const line of data.toString('utf8', 0, end).split('\n')) {
        const lineAt = at;
        at += Buffer.byteLength(line) + 1;
        if (!line) continue;
        let rec: LogLine;
        try {
          rec = JSON.parse(line) as LogLine;
        } catch {
          throw this.corrupt(path, lineAt, 'a line that is not JSON');
        }
        if (rec.o !== this.nextOffset) throw this.corrupt(path, lineAt, `offset ${rec.o} where ${this.nextOffset} was expected`);
        this.nextOffset = rec.o + 1;
        if (rec.o < keepFrom) continue;
        if (first) {
          this.baseOffset = rec.o;
          first = false;
        }
        this.messages.push(this.toMessage(rec));
      }
    }
    if (first) this.baseOffset = this.nextOffset;
    const last = this.segments.at(-1);
    if (last !== undefined) {
      const file = await fs.openAppend(join(dir, segmentName(last)));
      this.segment = { file, base: last, bytes: lastSize };
    }
  }

  append(messages: readonly OutgoingMessage[], now: number): Promise<void> {
    if (this.closed) return Promise.reject(new BurnrateError('BUS_CLOSED', `partition ${this.topic}/${this.partition} is closed`));
    if (!this.options.dir) {
      const appended = messages.map((m, i) => this.fromOutgoing(m, this.nextOffset + i, now));
      this.nextOffset += messages.length;
      this.publish(appended);
      return Promise.resolve();
    }
    const tails = messages.map((m) => {
      const rec: Omit<LogLine, 'o'> = { k: m.key, v: m.value, t: now };
      if (m.headers && Object.keys(m.headers).length > 0) rec.h = m.headers;
      return JSON.stringify(rec).slice(1);
    });
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ tails, messages, timestamp: now, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /**
   * Messages from `offset` on, at most `max`; waits for one to arrive if none is there yet.
   * Returns [] only when `signal` aborted; throws BUS_CLOSED once the log is closed, so a caller
   * that loops on it cannot spin.
   */
  async read(offset: number, max: number, signal: AbortSignal): Promise<ConsumedMessage[]> {
    while (offset >= this.nextOffsetVisible() && !signal.aborted) {
      if (this.closed) throw new BurnrateError('BUS_CLOSED', `partition ${this.topic}/${this.partition} is closed`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.waiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    if (signal.aborted) return [];
    const start = Math.max(0, offset - this.baseOffset);
    return this.messages.slice(start, start + max);
  }

  committedOffset(group: string): number | undefined {
    return this.committed.get(group);
  }

  /**
   * Records that `group` has processed everything before `next`. Resolves once that is on disk;
   * a failure is a retriable BUS_UNAVAILABLE and leaves the previous position in force.
   */
  commit(group: string, next: number): Promise<void> {
    const run = (): Promise<void> => this.writeCommit(group, next);
    const done = (this.commits.get(group) ?? Promise.resolve()).then(run);
    const settled = done.then(
      () => undefined,
      () => undefined,
    );
    this.commits.set(group, settled);
    void settled.then(() => {
      if (this.commits.get(group) === settled) this.commits.delete(group);
    });
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing;
    await Promise.all(this.commits.values());
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    const segment = this.segment;
    this.segment = undefined;
    if (!segment) return;
    try {
      if (this.tailDirty) await segment.file.truncate(segment.bytes);
    } finally {
      // If the cut failed, open() drops the partial line next time (see the class comment).
      await segment.file.close();
    }
  }

  private nextOffsetVisible(): number {
    return this.baseOffset + this.messages.length;
  }

  private publish(appended: ConsumedMessage[]): void {
    // Visible to consumers only once durable, and always in offset order.
    for (const m of appended) this.messages.push(m);
    // The producer's objects are kept for the newest messages only: a consumer that far behind
    // parses the text, and the log's memory stays what the text needs.
    for (let i = this.messages.length - appended.length - DECODED_WINDOW; i < this.messages.length - DECODED_WINDOW; i++) {
      const old = this.messages[i];
      if (old !== undefined) old.decoded = undefined;
    }
    for (const wake of [...this.waiters]) wake();
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.write(batch);
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Writes one group commit, or fails all of it: never settles a sender before its outcome is known. */
  private async write(batch: PendingAppend[]): Promise<void> {
    const first = this.nextOffset;
    let offset = first;
    let text = '';
    for (const p of batch) for (const tail of p.tails) text += `{"o":${offset++},${tail}\n`;
    const bytes = Buffer.from(text);
    try {
      await this.repairTail();
      const segment = await this.segmentFor(first, bytes.length);
      try {
        await writeFully(segment.file, bytes);
        if (this.options.fsync) await segment.file.datasync();
      } catch (err) {
        // Part of the batch may be in the file (or in the page cache, after a failed fdatasync).
        this.tailDirty = true;
        await this.repairTail().catch(() => undefined);
        throw err;
      }
      segment.bytes += bytes.length;
      this.nextOffset = offset;
      this.failure = undefined;
    } catch (cause) {
      const now = Date.now();
      const failure = (this.failure ??= { message: '', since: now, attempts: 0 });
      failure.message = describeIoError(cause);
      failure.attempts += 1;
      // Grows with how long the disk has been failing: a brief hiccup is retried soon, a full
      // disk is not hammered by every client at once.
      const retryAfterMs = Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, Math.round((now - failure.since) / 2)));
      const err = new BurnrateError('BUS_UNAVAILABLE', `cannot append to ${this.topic}/${this.partition}: ${failure.message}`, {
        cause,
        retryAfterMs,
      });
      for (const p of batch) p.reject(err);
      return;
    }
    let o = first;
    for (const p of batch) {
      this.publish(p.messages.map((m) => this.fromOutgoing(m, o++, p.timestamp)));
      p.resolve();
    }
  }

  /** Cuts the segment back to its last good length if a failed write may have left bytes past it. */
  private async repairTail(): Promise<void> {
    if (!this.tailDirty || !this.segment) return;
    await this.segment.file.truncate(this.segment.bytes);
    this.tailDirty = false;
  }

  private async segmentFor(base: number, bytes: number): Promise<{ file: LogFile; base: number; bytes: number }> {
    const dir = this.options.dir as string;
    // An empty segment is reused whatever the batch size: it was opened for this very offset.
    if (this.segment && (this.segment.bytes === 0 || this.segment.bytes + bytes <= this.options.segmentBytes)) return this.segment;
    const file = await this.fs.openAppend(join(dir, segmentName(base)));
    try {
      // The new file's directory entry must survive power loss as its records do.
      if (this.options.fsync) await this.fs.syncDir(dir);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
    const previous = this.segment;
    this.segment = { file, base, bytes: 0 };
    this.segments.push(base);
    // Everything in it was written and synced; a failing close loses nothing.
    await previous?.file.close().catch(() => undefined);
    return this.segment;
  }

  private async writeCommit(group: string, next: number): Promise<void> {
    if ((this.committed.get(group) ?? -1) >= next) return;
    const dir = this.options.dir;
    if (dir) {
      const path = join(dir, `${encodeURIComponent(group)}.offset`);
      try {
        // Write-then-rename: a crash leaves the old offset or the new one, never a torn file.
        const file = await this.fs.openTruncate(`${path}.tmp`);
        try {
          await writeFully(file, Buffer.from(String(next)));
          if (this.options.fsync) await file.datasync();
        } finally {
          await file.close();
        }
        await this.fs.rename(`${path}.tmp`, path);
      } catch (cause) {
        await this.fs.rm(`${path}.tmp`).catch(() => undefined);
        throw new BurnrateError(
          'BUS_UNAVAILABLE',
          `cannot commit ${group} at ${this.topic}/${this.partition}@${next}: ${describeIoError(cause)}`,
          { cause, retryAfterMs: MIN_RETRY_AFTER_MS },
        );
      }
    }
    this.committed.set(group, next);
    await this.trim();
  }

  private minCommitted(): number {
    if (this.committed.size === 0) return 0;
    return Math.min(...this.committed.values());
  }

  private async trim(): Promise<void> {
    const keepFrom = this.minCommitted();
    const drop = Math.min(keepFrom, this.nextOffsetVisible()) - this.baseOffset;
    // Amortised: compact the in-memory array only when a good share of it is consumed.
    if (drop > 4096 && drop * 2 > this.messages.length) {
      this.messages = this.messages.slice(drop);
      this.baseOffset += drop;
    }
    const dir = this.options.dir;
    if (!dir) return;
    // A segment can go once the next one starts at or below every group's position.
    while (this.segments.length > 1 && (this.segments[1] as number) <= keepFrom) {
      const base = this.segments[0] as number;
      await this.fs.rm(join(dir, segmentName(base)));
      this.segments.shift();
    }
  }

  private corrupt(path: string, byte: number, what: string): BurnrateError {
    return new BurnrateError(
      'INTERNAL',
      `bus segment ${path} is corrupt: ${what} at byte ${byte}; move the file aside to start without it (its records are lost)`,
    );
  }

  private fromOutgoing(m: OutgoingMessage, offset: number, timestamp: number): ConsumedMessage {
    return {
      topic: this.topic,
      partition: this.partition,
      offset: String(offset),
      key: m.key,
      value: m.value,
      headers: m.headers && Object.keys(m.headers).length > 0 ? { ...m.headers } : {},
      timestamp,
      ...(m.decoded !== undefined ? { decoded: m.decoded } : {}),
    };
  }

  private toMessage(rec: LogLine): ConsumedMessage {
    return {
      topic: this.topic,
      partition: this.partition,
      offset: String(rec.o),
      key: rec.k,
      value: rec.v,
      headers: rec.h ?? {},
      timestamp: rec.t,
    };
  }
}
