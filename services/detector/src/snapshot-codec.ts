import { BurnrateError } from '@burnrate/core';

/**
 * A partition's state as a sequence of bounded JSON texts ("parts"), so that neither saving nor
 * restoring ever holds the whole state as one string: a stage-A partition of 1M developers is
 * about 2 GB of JSON, four times V8's longest string, and one row or record that size is refused
 * by every store anyway.
 *
 * Each part is a JSON array, parsed on its own:
 *
 *   ["burnrate.snapshot-part/1", <index>, <last: 0|1>, [<path>, [<entries>]], …]
 *
 * A segment `[path, entries]` appends entries to the container at `path` (keys from the root, as
 * a JSON array): `key, value, key, value, …` for an object, `value, …` for an array. A container
 * too large to write whole is written as an empty `{}` or `[]` where it stands, and its contents
 * follow in segments of their own, so keys keep the order they had (detectors iterate their maps
 * in insertion order). Reading the parts in order and applying their segments rebuilds a value
 * equal to `JSON.parse(JSON.stringify(value))`, key order included.
 */
export const SNAPSHOT_PART_FORMAT = 'burnrate.snapshot-part/1';

/** What a part is at most, in UTF-8 bytes, unless the store takes less (SnapshotStore.maxPartBytes). */
export const DEFAULT_SNAPSHOT_PART_BYTES = 8 * 1024 * 1024;

/**
 * A container with more values than this (counted through its nested containers) is split into
 * its entries rather than serialised in one piece: a piece stays a few tens of KB, so parts fill
 * evenly and no value is serialised twice when it turns out not to fit.
 */
const WHOLE_VALUE_MAX_NODES = 1024;
/** A container with at least this many entries is a map of keys (developers, sessions) whose entries are each small. */
const WIDE_CONTAINER_ENTRIES = 64;
/** The state is a few levels of maps; anything deeper is a cycle or not a state at all. */
const MAX_DEPTH = 64;
/** Room kept in every part for its header (`["…",<index>,<last>`) and closing brackets. */
const PART_HEADER_BYTES = 64;
/** The smallest part that fits a header and a few values. */
export const MIN_SNAPSHOT_PART_BYTES = 1024;

const SEGMENT_CLOSE = ']]';
/** A segment costs its path plus `,[` `,[` before it and `]]` after it. */
const segmentBytes = (pathBytes: number): number => pathBytes + 4 + SEGMENT_CLOSE.length;

/**
 * The value's parts, each at most `maxPartBytes` UTF-8 bytes, produced one at a time: the caller
 * decides how many to hold (the detector takes them all before the state moves on, yielding to
 * the event loop between parts). Throws INPUT_TOO_LARGE when a single string cannot fit a part,
 * and what JSON.stringify throws (a BigInt) as is.
 */
export function* encodeSnapshot(value: unknown, maxPartBytes: number = DEFAULT_SNAPSHOT_PART_BYTES): Generator<string, void, undefined> {
  for (const part of encodeParts(value, maxPartBytes)) yield part.text;
}

function* encodeParts(value: unknown, maxPartBytes: number): Generator<{ text: string; last: boolean }, void, undefined> {
  if (!Number.isInteger(maxPartBytes) || maxPartBytes < MIN_SNAPSHOT_PART_BYTES) {
    throw new RangeError(`snapshot parts must hold at least ${MIN_SNAPSHOT_PART_BYTES} bytes, not ${maxPartBytes}`);
  }
  const writer = new PartWriter(maxPartBytes);
  // The root sits at index 0 of a virtual array, so a root too large for one piece is split like any other container.
  for (const text of writeValues(writer, value)) yield { text, last: false };
  yield { text: writer.finish(), last: true };
}

/**
 * Everything `encodeSnapshot` makes, with the event loop let through between parts (other
 * partitions, HTTP, timers); a state of one part is serialised without a pause.
 */
export async function encodeSnapshotYielding(value: unknown, maxPartBytes: number = DEFAULT_SNAPSHOT_PART_BYTES): Promise<string[]> {
  const parts: string[] = [];
  for (const part of encodeParts(value, maxPartBytes)) {
    parts.push(part.text);
    if (!part.last) await new Promise((resolve) => setImmediate(resolve));
  }
  return parts;
}

/**
 * The value the parts were made from. A snapshot saved before parts existed is one whole JSON
 * text, and is read as that. Anything else malformed (a part missing, out of order, cut short,
 * not JSON) is SNAPSHOT_UNREADABLE; what the parts' source throws is passed on as is, so a store
 * that is down is not mistaken for a snapshot that is broken.
 */
export async function decodeSnapshot(parts: AsyncIterable<string> | Iterable<string>): Promise<unknown> {
  const assembler = new SnapshotAssembler();
  for await (const part of parts) assembler.push(part);
  return assembler.finish();
}

/** Applies parts one at a time; `finish` returns the value once the last part is in. */
export class SnapshotAssembler {
  private readonly root: unknown[] = [];
  private next = 0;
  private ended = false;
  private whole: { value: unknown } | undefined;

  push(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw unreadable(`part ${this.next} is not JSON`, err);
    }
    if (this.next === 0 && !isPart(parsed)) {
      // A whole-JSON snapshot from before parts: one text, the state itself.
      this.whole = { value: parsed };
      this.next = 1;
      this.ended = true;
      return;
    }
    if (this.ended) throw unreadable(`a part follows the last one (part ${this.next})`);
    if (!isPart(parsed)) throw unreadable(`part ${this.next} is not a ${SNAPSHOT_PART_FORMAT} part`);
    const [, index, last] = parsed;
    if (index !== this.next) throw unreadable(`part ${String(index)} arrived where part ${this.next} was expected`);
    for (let s = 3; s < parsed.length; s++) this.apply(parsed[s], index);
    this.next += 1;
    this.ended = last === 1;
  }

  finish(): unknown {
    if (this.whole !== undefined) return this.whole.value;
    if (this.next === 0) throw unreadable('the snapshot has no parts');
    if (!this.ended) throw unreadable(`the snapshot ends at part ${this.next - 1}, which is not its last`);
    return this.root[0];
  }

  private apply(segment: unknown, index: number): void {
    if (!Array.isArray(segment) || segment.length !== 2 || !Array.isArray(segment[0]) || !Array.isArray(segment[1])) {
      throw unreadable(`part ${index} holds a segment that is not [path, entries]`);
    }
    const path = segment[0] as unknown[];
    const entries = segment[1] as unknown[];
    let container: unknown = this.root;
    for (const key of path) {
      if (typeof key !== 'string' && typeof key !== 'number') throw unreadable(`part ${index}: a path holds ${typeof key}`);
      if (container === null || typeof container !== 'object' || !Object.hasOwn(container, key)) {
        throw unreadable(`part ${index}: path ${JSON.stringify(path)} does not lead to a value written before it`);
      }
      container = (container as Record<string | number, unknown>)[key];
    }
    if (Array.isArray(container)) {
      for (const v of entries) container.push(v);
      return;
    }
    if (container === null || typeof container !== 'object') throw unreadable(`part ${index}: ${JSON.stringify(path)} is not a container`);
    if (entries.length % 2 !== 0) throw unreadable(`part ${index}: the entries of ${JSON.stringify(path)} are not key, value pairs`);
    const target = container as Record<string, unknown>;
    for (let i = 0; i < entries.length; i += 2) {
      const key = entries[i];
      if (typeof key !== 'string') throw unreadable(`part ${index}: a key of ${JSON.stringify(path)} is not a string`);
      // JSON.parse makes "__proto__" an own key; an assignment would set the prototype instead.
      if (key === '__proto__')
        Object.defineProperty(target, key, { value: entries[i + 1], writable: true, enumerable: true, configurable: true });
      else target[key] = entries[i + 1];
    }
  }
}

function isPart(value: unknown): value is [string, number, 0 | 1, ...unknown[]] {
  return (
    Array.isArray(value) &&
    value.length >= 3 &&
    value[0] === SNAPSHOT_PART_FORMAT &&
    Number.isInteger(value[1]) &&
    (value[2] === 0 || value[2] === 1)
  );
}

function unreadable(reason: string, cause?: unknown): BurnrateError {
  return new BurnrateError('SNAPSHOT_UNREADABLE', `detector snapshot unreadable: ${reason}`, cause === undefined ? {} : { cause });
}

/** Accumulates segments into parts of at most `max` bytes; a segment cut by a part boundary is reopened in the next. */
class PartWriter {
  private pieces: string[] = [];
  private bytes = PART_HEADER_BYTES;
  private index = 0;
  /** Path (JSON) of the segment open in the current part; null before its first. */
  private segment: string | null = null;
  private segmentEntries = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Largest entry that fits an empty part under a path of `pathBytes`. */
  room(pathBytes: number): number {
    return this.max - PART_HEADER_BYTES - segmentBytes(pathBytes);
  }

  /** Parts completed and not taken yet. */
  private readonly done: string[] = [];

  /** The next completed part, if any. */
  take(): string | undefined {
    return this.done.shift();
  }

  /** Adds an entry to the segment at `path`, completing the current part first if it does not fit. */
  add(path: string, entry: string, entryBytes: number): void {
    const opening = this.segment === path ? 0 : segmentBytes(Buffer.byteLength(path));
    const separator = this.segment === path && this.segmentEntries > 0 ? 1 : 0;
    if (this.bytes + opening + separator + entryBytes > this.max && this.pieces.length > 0) this.done.push(this.flush(false));
    if (this.segment !== path) {
      if (this.segment !== null) this.pieces.push(SEGMENT_CLOSE);
      this.pieces.push(`,[${path},[`);
      this.bytes += segmentBytes(Buffer.byteLength(path));
      this.segment = path;
      this.segmentEntries = 0;
    } else if (this.segmentEntries > 0) {
      this.pieces.push(',');
      this.bytes += 1;
    }
    this.pieces.push(entry);
    this.bytes += entryBytes;
    this.segmentEntries += 1;
  }

  finish(): string {
    return this.flush(true);
  }

  private flush(last: boolean): string {
    if (this.segment !== null) this.pieces.push(SEGMENT_CLOSE);
    const text = `[${JSON.stringify(SNAPSHOT_PART_FORMAT)},${this.index},${last ? 1 : 0}${this.pieces.join('')}]`;
    this.index += 1;
    this.pieces = [];
    this.bytes = PART_HEADER_BYTES;
    this.segment = null;
    this.segmentEntries = 0;
    return text;
  }
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] =>
  typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON !== 'function';

/** Whether the value has more than `budget` values in it, containers included; stops counting once it has. */
function largerThan(value: unknown, budget: number): boolean {
  let remaining = budget;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (--remaining < 0) return true;
    if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === 'object' && item !== null) stack.push(item);
        else if (--remaining < 0) return true;
      }
    } else if (typeof v === 'object' && v !== null) {
      for (const k in v) {
        const item = (v as Record<string, unknown>)[k];
        if (typeof item === 'object' && item !== null) stack.push(item);
        else if (--remaining < 0) return true;
      }
    }
  }
  return false;
}

/** A container being written entry by entry. */
interface Frame {
  /** Its path from the root, as JSON text. */
  path: string;
  names: readonly (string | number)[];
  value: Record<string, unknown> | unknown[];
  keys: string[] | null;
  next: number;
  length: number;
  depth: number;
}

/**
 * Writes the value as the entry `key` of the container at `parent` (the root: index 0 of a
 * virtual array), one container at a time from an explicit stack: a generator per value costs
 * more than serialising it.
 */
function* writeValues(writer: PartWriter, root: unknown): Generator<string, void, undefined> {
  const frames: Frame[] = [];
  const descend = (
    parent: string,
    parentNames: readonly (string | number)[],
    key: string | number,
    prefix: string,
    value: Record<string, unknown> | unknown[],
    depth: number,
  ): void => {
    const names = [...parentNames, key];
    if (depth >= MAX_DEPTH) {
      throw new BurnrateError('INPUT_TOO_LARGE', `snapshot value at ${describePath(names)} is nested deeper than ${MAX_DEPTH} levels`);
    }
    const placeholder = prefix + (Array.isArray(value) ? '[]' : '{}');
    writer.add(parent, placeholder, Buffer.byteLength(placeholder));
    const keys = Array.isArray(value) ? null : Object.keys(value);
    frames.push({
      path: JSON.stringify(names),
      names,
      value,
      keys,
      next: 0,
      length: keys === null ? (value as unknown[]).length : keys.length,
      depth: depth + 1,
    });
  };
  /**
   * Entries of a wide container (many of them) are small as a rule and serialised at once; a
   * narrow one's (the state's top levels) may hold most of the state, so they are sized first.
   */
  const write = (
    parent: string,
    parentNames: readonly (string | number)[],
    key: string | number,
    value: unknown,
    depth: number,
    wide: boolean,
  ): void => {
    // Entries of an object carry their key; entries of an array are its values in order.
    const prefix = typeof key === 'string' ? `${JSON.stringify(key)},` : '';
    if (!wide && isContainer(value) && largerThan(value, WHOLE_VALUE_MAX_NODES)) {
      descend(parent, parentNames, key, prefix, value, depth);
      return;
    }
    let text = JSON.stringify(value);
    if (text === undefined) {
      // As JSON.stringify: undefined, functions and symbols are left out of objects and null in arrays.
      if (typeof key === 'string') return;
      text = 'null';
    }
    const entry = prefix + text;
    const bytes = Buffer.byteLength(entry);
    const room = writer.room(Buffer.byteLength(parent));
    if (bytes > room) {
      if (isContainer(value)) {
        descend(parent, parentNames, key, prefix, value, depth);
        return;
      }
      throw new BurnrateError(
        'INPUT_TOO_LARGE',
        `snapshot value at ${describePath([...parentNames, key])} is ${Buffer.byteLength(text)} bytes, more than one snapshot part holds (${room})`,
      );
    }
    writer.add(parent, entry, bytes);
  };

  write('[]', [], 0, root, 0, false);
  for (let done = writer.take(); done !== undefined; done = writer.take()) yield done;
  while (frames.length > 0) {
    const frame = frames[frames.length - 1] as Frame;
    if (frame.next >= frame.length) {
      frames.pop();
      continue;
    }
    const i = frame.next++;
    const wide = frame.length >= WIDE_CONTAINER_ENTRIES;
    if (frame.keys === null) write(frame.path, frame.names, i, (frame.value as unknown[])[i], frame.depth, wide);
    else {
      const k = frame.keys[i] as string;
      write(frame.path, frame.names, k, (frame.value as Record<string, unknown>)[k], frame.depth, wide);
    }
    for (let done = writer.take(); done !== undefined; done = writer.take()) yield done;
  }
}

/** `engine.seen["acme:alice"]`, for errors; the leading 0 is the virtual root's slot. */
function describePath(names: readonly (string | number)[]): string {
  const rest = names.slice(1);
  if (rest.length === 0) return 'the root';
  return rest
    .map((k, i) =>
      typeof k === 'number' ? `[${k}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${i === 0 ? '' : '.'}${k}` : `[${JSON.stringify(k)}]`,
    )
    .join('');
}
