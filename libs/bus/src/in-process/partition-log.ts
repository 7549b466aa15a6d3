import { mkdir, open, readdir, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BurnrateError } from '@burnrate/core';
import type { ConsumedMessage, OutgoingMessage } from '../port.ts';

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
}

interface PendingAppend {
  firstOffset: number;
  lines: string;
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const SEGMENT_SUFFIX = '.log';
const segmentName = (baseOffset: number): string => `${String(baseOffset).padStart(20, '0')}${SEGMENT_SUFFIX}`;

/**
 * An append-only, segmented log for one partition: the in-process stand-in for a Kafka partition.
 *
 * Appends from concurrent senders are group-committed: whatever queued while the previous write
 * was in flight goes out in one write (and one fdatasync), and every sender's promise resolves
 * only after that. A trailing partial line (a write cut by a crash before it was acknowledged)
 * is dropped on open. Messages stay in memory from the lowest committed group offset onward;
 * segments wholly below every group's position are deleted.
 */
export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  private readonly options: PartitionLogOptions;
  /** Messages from `baseOffset` onward; index = offset - baseOffset. */
  private messages: ConsumedMessage[] = [];
  private baseOffset = 0;
  private nextOffset = 0;
  private readonly committed = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private segment: { handle: FileHandle; base: number; bytes: number } | undefined;
  private segments: number[] = [];
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(options: PartitionLogOptions) {
    this.options = options;
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

  /** Reads segments and group offsets back from disk. */
  async open(): Promise<void> {
    const dir = this.options.dir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    for (const name of names) {
      const m = /^(.+)\.offset$/.exec(name);
      if (m?.[1]) this.committed.set(decodeURIComponent(m[1]), Number(await readFile(join(dir, name), 'utf8')));
    }
    this.segments = names
      .filter((n) => n.endsWith(SEGMENT_SUFFIX))
      .map((n) => Number(n.slice(0, -SEGMENT_SUFFIX.length)))
      .sort((a, b) => a - b);
    const keepFrom = this.minCommitted();
    let first = true;
    for (const base of this.segments) {
      const path = join(dir, segmentName(base));
      const text = await readFile(path, 'utf8');
      const end = text.lastIndexOf('\n') + 1;
      if (end < text.length) {
        // A write that never completed: it was not acknowledged, so dropping it loses nothing.
        await writeFile(path, text.slice(0, end));
      }
      for (const line of text.slice(0, end).split('\n')) {
        if (!line) continue;
        const rec = JSON.parse(line) as LogLine;
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
      const handle = await open(join(dir, segmentName(last)), 'a');
      this.segment = { handle, base: last, bytes: (await handle.stat()).size };
    }
  }

  append(messages: readonly OutgoingMessage[], now: number): Promise<void> {
    if (this.closed) return Promise.reject(new BurnrateError('BUS_CLOSED', `partition ${this.topic}/${this.partition} is closed`));
    const firstOffset = this.nextOffset;
    let lines = '';
    const appended: ConsumedMessage[] = [];
    for (const m of messages) {
      const rec: LogLine = { o: this.nextOffset++, k: m.key, v: m.value, t: now };
      if (m.headers && Object.keys(m.headers).length > 0) rec.h = m.headers;
      lines += `${JSON.stringify(rec)}\n`;
      appended.push(this.toMessage(rec));
    }
    if (!this.options.dir) {
      this.publish(appended);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        firstOffset,
        lines,
        bytes: Buffer.byteLength(lines),
        resolve: () => {
          this.publish(appended);
          resolve();
        },
        reject,
      });
      this.flushing ??= this.flush();
    });
  }

  /** Messages from `offset` on, at most `max`; waits for one to arrive if none is there yet. */
  async read(offset: number, max: number, signal: AbortSignal): Promise<ConsumedMessage[]> {
    while (offset >= this.nextOffsetVisible() && !signal.aborted && !this.closed) {
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
    const start = Math.max(0, offset - this.baseOffset);
    return this.messages.slice(start, start + max);
  }

  committedOffset(group: string): number | undefined {
    return this.committed.get(group);
  }

  /** Records that `group` has processed everything before `next`. */
  async commit(group: string, next: number): Promise<void> {
    if ((this.committed.get(group) ?? -1) >= next) return;
    this.committed.set(group, next);
    const dir = this.options.dir;
    if (dir) {
      const file = join(dir, `${encodeURIComponent(group)}.offset`);
      // Write-then-rename: a crash leaves the old offset or the new one, never a torn file.
      await writeFile(`${file}.tmp`, String(next));
      await rename(`${file}.tmp`, file);
    }
    await this.trim();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flushing;
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    await this.segment?.handle.close();
    this.segment = undefined;
  }

  private nextOffsetVisible(): number {
    return this.baseOffset + this.messages.length;
  }

  private publish(appended: ConsumedMessage[]): void {
    // Visible to consumers only once durable, and always in offset order.
    for (const m of appended) this.messages.push(m);
    for (const wake of [...this.waiters]) wake();
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          const first = batch[0] as PendingAppend;
          const handle = await this.segmentFor(
            first.firstOffset,
            batch.reduce((n, p) => n + p.bytes, 0),
          );
          await handle.write(batch.map((p) => p.lines).join(''));
          if (this.options.fsync) await handle.datasync();
          for (const p of batch) p.resolve();
        } catch (cause) {
          const err = new BurnrateError(
            'BUS_UNAVAILABLE',
            `cannot append to ${this.topic}/${this.partition}: ${(cause as Error).message}`,
            { cause },
          );
          // Offsets were handed out; a failed write leaves a gap readers must not wait on forever.
          this.closed = true;
          for (const p of [...batch, ...this.pending]) p.reject(err);
          this.pending = [];
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async segmentFor(base: number, bytes: number): Promise<FileHandle> {
    const dir = this.options.dir as string;
    if (this.segment && this.segment.bytes + bytes <= this.options.segmentBytes) {
      this.segment.bytes += bytes;
      return this.segment.handle;
    }
    await this.segment?.handle.close();
    const handle = await open(join(dir, segmentName(base)), 'a');
    this.segment = { handle, base, bytes };
    this.segments.push(base);
    return handle;
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
      const base = this.segments.shift() as number;
      await rm(join(dir, segmentName(base)), { force: true });
    }
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
