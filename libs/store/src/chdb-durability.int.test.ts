import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from './chdb-store.ts';

const WRITER = fileURLToPath(new URL('../test-support/chdb-writer.ts', import.meta.url));
const BATCH_SIZE = 200;
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** Runs the writer until it has acknowledged `minAcked` batches, then SIGKILLs it mid-insert. */
async function writeThenKill(dataDir: string, minAcked: number): Promise<number> {
  const child = spawn(process.execPath, [WRITER, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let lastAcked = -1;
  let buffered = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`writer acknowledged ${lastAcked + 1} batches in 60 s; stderr: ${stderr}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^acked (\d+)$/.exec(line);
        if (m) lastAcked = Number(m[1]);
      }
      if (lastAcked + 1 >= minAcked && !child.killed) {
        // Killed while the next insert is already under way.
        child.kill('SIGKILL');
        clearTimeout(timer);
        resolve();
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
    const m = /^acked (\d+)$/.exec(line);
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
});
