import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'chdb';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from './chdb-store.ts';
import { snapshotParts, SNAPSHOT_WRITER_KEY } from '../test-support/snapshot-parts.ts';

const WRITER = fileURLToPath(new URL('../test-support/chdb-writer.ts', import.meta.url));
const SNAPSHOT_WRITER = fileURLToPath(new URL('../test-support/snapshot-writer.ts', import.meta.url));
const BATCH_SIZE = 200;
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/**
 * Runs a writer until it has acknowledged `minAcked` writes (`<word> <n>` lines), then SIGKILLs
 * it with the next write under way: at once, or `midway` through it (half the writes' average
 * time later), for writes that are many statements long.
 */
async function writeThenKill(
  dataDir: string,
  minAcked: number,
  options: { writer?: string; word?: string; midway?: boolean } = {},
): Promise<number> {
  const child = spawn(process.execPath, [options.writer ?? WRITER, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new RegExp(`^${options.word ?? 'acked'} (\\d+)$`);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let lastAcked = -1;
  let firstAckAt = 0;
  let buffered = '';
  let killing = false;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer acknowledged ${lastAcked + 1} writes in 60 s; stderr: ${stderr}`)), 60_000);
    const kill = (): void => {
      child.kill('SIGKILL');
      clearTimeout(timer);
      resolve();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = acked.exec(line);
        if (m === null) continue;
        lastAcked = Number(m[1]);
        if (lastAcked === 0) firstAckAt = performance.now();
      }
      if (lastAcked + 1 >= minAcked && !killing) {
        killing = true;
        // Killed while the next write is already under way.
        if (options.midway !== true || lastAcked === 0) kill();
        else setTimeout(kill, (performance.now() - firstAckAt) / lastAcked / 2);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!child.killed) reject(new Error(`writer exited on its own with ${code}; stderr: ${stderr}`));
    });
  });
  expect(await exited).toBe('SIGKILL');
  // Lines that arrived between the kill decision and the process dying were acknowledged too.
  for (const line of buffered.split('\n')) {
    const m = acked.exec(line);
    if (m) lastAcked = Math.max(lastAcked, Number(m[1]));
  }
  return lastAcked;
}

describe('chdb durability', () => {
  it('keeps every acknowledged insert after the writer is killed with SIGKILL, and no partial batch', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'burnrate-kill9-'));
    dirs.push(dataDir);
    const lastAcked = await writeThenKill(dataDir, 8);
    expect(lastAcked).toBeGreaterThanOrEqual(7);

    const store = await createChdbStore({ dataDir, log: createLogger({ level: 'silent' }) });
    await store.migrate();
    const count = await store.countUsageEvents();
    // Every acknowledged batch is there; the batch in flight at the kill is all there or absent.
    expect(count).toBeGreaterThanOrEqual((lastAcked + 1) * BATCH_SIZE);
    expect(count % BATCH_SIZE).toBe(0);
    expect(count).toBeLessThanOrEqual((lastAcked + 2) * BATCH_SIZE);
    for (let batch = 0; batch <= lastAcked; batch += 1) {
      expect(await store.countUsageEvents({ session_id: `batch-${batch}` })).toBe(BATCH_SIZE);
    }
    const spend = await store.spendByHour({});
    expect(spend.reduce((sum, r) => sum + r.events, 0)).toBe(count);
    await store.close();
  });

  it('loads one whole snapshot after the writer is killed with SIGKILL in the middle of a save of many parts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'burnrate-kill9-snapshot-'));
    dirs.push(dataDir);
    const lastSaved = await writeThenKill(dataDir, 4, { writer: SNAPSHOT_WRITER, word: 'saved', midway: true });
    expect(lastSaved).toBeGreaterThanOrEqual(3);

    // Merges may run at any time and keep only the newest generation of each (slot, part): let
    // them all run before reading, so a save that overwrote the parts in use would show.
    const session = new Session(dataDir);
    try {
      await session.queryAsync('OPTIMIZE TABLE default.detector_snapshot_parts_v1 FINAL');
    } finally {
      session.close();
    }
    const store = await createChdbStore({ dataDir, log: createLogger({ level: 'silent' }) });
    await store.migrate();
    const found = await store.loadSnapshot(SNAPSHOT_WRITER_KEY);
    // The last acknowledged save, or the one in flight if the kill came after its manifest.
    const offset = Number(found?.offset);
    expect([lastSaved, lastSaved + 1]).toContain(offset);
    const parts: string[] = [];
    for await (const part of found?.parts() ?? []) parts.push(part);
    expect(parts).toEqual(snapshotParts(offset));
    await store.close();
  });
});
