import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BurnrateError } from '@burnrate/core';
import type { OutgoingMessage } from '../port.ts';
import { faultyLogFs } from './faulty-log-fs.ts';
import type { LogFs } from './log-fs.ts';
import { PartitionLog } from './partition-log.ts';

const dirs: string[] = [];
const logs: PartitionLog[] = [];

afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.close().catch(() => undefined)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'burnrate-log-'));
  dirs.push(dir);
  return dir;
}

async function openLog(dir: string, fs?: LogFs, options: { segmentBytes?: number; fsync?: boolean } = {}): Promise<PartitionLog> {
  const log = new PartitionLog({
    topic: 't',
    partition: 0,
    dir,
    fsync: options.fsync ?? true,
    segmentBytes: options.segmentBytes ?? 1 << 20,
    ...(fs ? { fs } : {}),
  });
  await log.open();
  logs.push(log);
  return log;
}

const msgs = (n: number, tag: string): OutgoingMessage[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i % 3}`, value: `${tag}-${i}`, ...(i === 0 ? { headers: { h: 'x' } } : {}) }));

async function readAll(log: PartitionLog): Promise<{ offset: number; value: string }[]> {
  const signal = AbortSignal.timeout(1_000);
  if (log.highWatermark === log.earliestOffset) return [];
  return (await log.read(log.earliestOffset, 1_000_000, signal)).map((m) => ({ offset: Number(m.offset), value: m.value }));
}

async function segmentText(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
  return (await Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')))).join('');
}

const contiguous = (records: { offset: number }[]): boolean => records.every((r, i) => r.offset === (records[0]?.offset ?? 0) + i);

describe('partition log writes', () => {
  it('completes short writes: a write(2) that takes fewer bytes than asked is continued', async () => {
    const dir = await tempDir();
    const { fs, faults, writes } = faultyLogFs();
    faults.maxWrite = 7;
    const log = await openLog(dir, fs);
    await log.append(msgs(50, 'a'), 1);
    await Promise.all([log.append(msgs(20, 'b'), 2), log.append(msgs(30, 'c'), 3)]);
    expect(writes()).toBeGreaterThan(100);
    await log.close();

    const reopened = await openLog(dir);
    const records = await readAll(reopened);
    expect(records.map((r) => r.value)).toEqual([...msgs(50, 'a'), ...msgs(20, 'b'), ...msgs(30, 'c')].map((m) => m.value));
    expect(contiguous(records)).toBe(true);
  });

  it('fails an append whose write makes no progress instead of looping on it', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    const log = await openLog(dir, fs);
    faults.zeroWrites = true;
    await expect(log.append(msgs(3, 'a'), 1)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
    faults.zeroWrites = false;
    await log.append(msgs(2, 'b'), 2);
    expect((await readAll(log)).map((r) => r.offset)).toEqual([0, 1]);
  });

  it('on a full disk refuses the batch retriably, cuts the torn record off, and resumes when space returns', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    const log = await openLog(dir, fs);
    await log.append(msgs(5, 'ok'), 1);
    const goodBytes = (await stat(join(dir, '00000000000000000000.log'))).size;

    faults.space = 100; // part of the next batch fits, then ENOSPC
    const refused = log.append(msgs(20, 'full'), 2);
    // Queued behind the failing write: tried (and refused) on its own, never given a stale offset.
    const queued = log.append(msgs(3, 'queued'), 3);
    const err = await refused.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BurnrateError);
    expect(err).toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
    expect((err as BurnrateError).retryAfterMs).toBeGreaterThanOrEqual(1_000);
    expect((err as BurnrateError).message).toMatch(/cannot append to t\/0: ENOSPC: no space left on device, write/);
    await expect(queued).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    expect(log.writeFailure()).toMatchObject({ message: 'ENOSPC: no space left on device, write', attempts: 2 });
    // Nothing of the refused batches is readable or left in the file.
    expect(log.highWatermark).toBe(5);
    expect((await stat(join(dir, '00000000000000000000.log'))).size).toBe(goodBytes);

    faults.space = Infinity;
    await log.append(msgs(4, 'after'), 4);
    expect(log.writeFailure()).toBeUndefined();
    const records = await readAll(log);
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(records.slice(5).map((r) => r.value)).toEqual(msgs(4, 'after').map((m) => m.value));

    await log.close();
    const reopened = await readAll(await openLog(dir));
    expect(reopened).toEqual(records);
  });

  it('treats a failed fdatasync as a failed write: nothing of it is kept or acknowledged', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    const log = await openLog(dir, fs);
    await log.append(msgs(2, 'ok'), 1);
    faults.failDatasyncs = 1;
    await expect(log.append(msgs(2, 'unsynced'), 2)).rejects.toThrow(/EIO: i\/o error, fdatasync/);
    await log.append(msgs(1, 'next'), 3);
    await log.close();
    expect((await readAll(await openLog(dir))).map((r) => `${r.offset}:${r.value}`)).toEqual(['0:ok-0', '1:ok-1', '2:next-0']);
  });

  it('writes nothing after a tail it could not cut, and reopens consistently after a crash in that state', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    const log = await openLog(dir, fs);
    await log.append(msgs(3, 'ok'), 1);
    const goodBytes = (await stat(join(dir, '00000000000000000000.log'))).size;

    // The write is cut mid-record, and the cut back fails too (a copy-on-write file system can
    // need space to truncate).
    faults.space = 150;
    faults.failTruncate = 'ENOSPC';
    await expect(log.append(msgs(10, 'torn'), 2)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    const tornBytes = (await stat(join(dir, '00000000000000000000.log'))).size;
    expect(tornBytes).toBe(goodBytes + 150);

    // Space is back but the tail still cannot be cut: appending after it would bury a torn
    // record mid-file, so the append is refused and the file is left alone.
    faults.space = Infinity;
    await expect(log.append(msgs(2, 'blocked'), 3)).rejects.toThrow(/ftruncate/);
    expect((await stat(join(dir, '00000000000000000000.log'))).size).toBe(tornBytes);

    // A crash now (the process dies holding the file): open drops the trailing partial record.
    // Whole records of the refused batch come back; their sender was told to retry, and a
    // retry carries the same ids.
    const afterCrash = await openLog(dir);
    const records = await readAll(afterCrash);
    expect(contiguous(records)).toBe(true);
    expect(records.slice(0, 3).map((r) => r.value)).toEqual(['ok-0', 'ok-1', 'ok-2']);
    expect(records.slice(3).every((r) => r.value.startsWith('torn-'))).toBe(true);
    expect((await segmentText(dir)).endsWith('\n')).toBe(true);
    await afterCrash.append(msgs(1, 'resumed'), 4);
    const after = await readAll(afterCrash);
    expect(contiguous(after)).toBe(true);
    expect(after.at(-1)).toEqual({ offset: records.length, value: 'resumed-0' });
  });

  it('cuts the tail before the next write once truncation works again', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    const log = await openLog(dir, fs);
    await log.append(msgs(3, 'ok'), 1);
    faults.space = 150;
    faults.failTruncate = 'EIO';
    await expect(log.append(msgs(10, 'torn'), 2)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    faults.space = Infinity;
    faults.failTruncate = undefined;
    await log.append(msgs(2, 'after'), 3);
    await log.close();
    const text = await segmentText(dir);
    expect(text).not.toContain('torn');
    expect((await readAll(await openLog(dir))).map((r) => `${r.offset}:${r.value}`)).toEqual([
      '0:ok-0',
      '1:ok-1',
      '2:ok-2',
      '3:after-0',
      '4:after-1',
    ]);
  });

  it('keeps its offsets when a write into a new segment failed and the older segments were deleted', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    // Every batch rolls a new segment.
    const log = await openLog(dir, fs, { segmentBytes: 1 });
    await log.append(msgs(2, 'a'), 1);
    faults.space = 0;
    await expect(log.append(msgs(2, 'b'), 2)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE' });
    // The group has consumed everything written, so the first segment goes; an empty one is left.
    faults.space = Infinity;
    await log.commit('g', 2);
    expect((await readdir(dir)).filter((n) => n.endsWith('.log'))).toEqual(['00000000000000000002.log']);
    await log.close();

    const reopened = await openLog(dir, fs, { segmentBytes: 1 });
    expect(reopened.highWatermark).toBe(2);
    await reopened.append(msgs(1, 'c'), 3);
    expect(await readAll(reopened)).toEqual([{ offset: 2, value: 'c-0' }]);
  });

  it('refuses to open a segment with a gap in its offsets rather than misnumber records', async () => {
    const dir = await tempDir();
    const log = await openLog(dir);
    await log.append(msgs(2, 'a'), 1);
    await log.close();
    const path = join(dir, '00000000000000000000.log');
    const text = await readFile(path, 'utf8');
    await (await import('node:fs/promises')).writeFile(path, text.replace('"o":1,', '"o":5,'));
    await expect(openLog(dir)).rejects.toThrow(/00000000000000000000\.log is corrupt: offset 5 where 1 was expected at byte \d+/);
  });
});

describe('partition log commits and reads', () => {
  it('fails a commit it cannot write, keeps the old position, and commits once the disk recovers', async () => {
    const dir = await tempDir();
    const { fs, faults } = faultyLogFs();
    const log = await openLog(dir, fs);
    await log.append(msgs(5, 'a'), 1);
    await log.commit('g', 2);

    faults.space = 0;
    await expect(log.commit('g', 4)).rejects.toMatchObject({ code: 'BUS_UNAVAILABLE', retriable: true });
    expect(log.committedOffset('g')).toBe(2);
    faults.space = Infinity;
    faults.failRename = 'EIO';
    await expect(log.commit('g', 4)).rejects.toThrow(/cannot commit g at t\/0@4: EIO: i\/o error, rename/);
    expect(log.committedOffset('g')).toBe(2);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    faults.failRename = undefined;
    await log.commit('g', 4);
    await log.close();
    expect((await openLog(dir)).committedOffset('g')).toBe(4);
  });

  it('writes concurrent commits of one group in order', async () => {
    const dir = await tempDir();
    const log = await openLog(dir);
    await log.append(msgs(10, 'a'), 1);
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((n) => log.commit('g', n)));
    await log.close();
    expect((await openLog(dir)).committedOffset('g')).toBe(8);
  });

  it('ignores an offset file left empty by a power loss: the group replays rather than fails', async () => {
    const dir = await tempDir();
    const log = await openLog(dir);
    await log.append(msgs(3, 'a'), 1);
    await log.commit('g', 2);
    await log.close();
    await (await import('node:fs/promises')).writeFile(join(dir, 'g.offset'), '');
    expect((await openLog(dir)).committedOffset('g')).toBeUndefined();
  });

  it('throws BUS_CLOSED from read() on a closed log instead of returning nothing', async () => {
    const log = await openLog(await tempDir());
    const reading = log.read(0, 10, new AbortController().signal);
    await log.close();
    await expect(reading).rejects.toMatchObject({ code: 'BUS_CLOSED' });
    await expect(log.read(0, 10, new AbortController().signal)).rejects.toMatchObject({ code: 'BUS_CLOSED' });
  });
});
