import { execFileSync } from 'node:child_process';
import { mkdir, open, rm, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@burnrate/core';
import { createChdbStore } from '@burnrate/store';
import { tempDir, type TempDir, waitUntil } from '@burnrate/testing';
import {
  type BurnrateProcess,
  INGEST_AUTH,
  startBurnrate,
  startSurroundings,
  type Surroundings,
} from '../test-support/burnrate-process.ts';

// A real small file system: a tmpfs of a few MiB (mounting needs root, which CI has). chdb
// starts in well under 1 MiB and reserves 1 MiB per insert, so 16 MiB leaves room to start and
// to fill.
const TMPFS_SIZE = '16m';
const EVENTS_PER_REQUEST = 10;
// Room for the bus log (a request's events take ~6 KB) but not for chdb's 1 MiB reservation.
const NEARLY_FULL_BYTES = 256 * 1024;

function mountTmpfs(path: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { stdio: 'pipe' });
}

function unmount(path: string): void {
  try {
    execFileSync('umount', [path], { stdio: 'pipe' });
  } catch {
    // Still busy (a process that did not exit): detach it, it goes once the last file closes.
    execFileSync('umount', ['-l', path], { stdio: 'pipe' });
  }
}

/** Whether this machine lets the test mount a tmpfs, and why not. */
async function tmpfsProbe(): Promise<string | undefined> {
  const dir = await tempDir('burnrate-mount-probe-');
  try {
    mountTmpfs(dir.path, 'size=1m');
    unmount(dir.path);
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs (needs root): ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await dir.cleanup();
  }
}

/**
 * Writes a file until the disk refuses more, in big chunks then page-sized ones, then gives
 * `leaveBytes` back: 0 leaves the disk full.
 */
async function fillDisk(path: string, leaveBytes = 0): Promise<void> {
  const file = await open(path, 'w');
  let total = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size, 0x61);
      for (;;) {
        try {
          const { bytesWritten } = await file.write(chunk);
          total += bytesWritten;
          if (bytesWritten < size) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    await file.close();
  }
  if (leaveBytes > 0) await truncate(path, total - leaveBytes);
}

const cannotMount = await tmpfsProbe();
const inCi = process.env.CI === 'true';
if (cannotMount && !inCi) console.warn(`disk-full tests skipped: ${cannotMount}`);

interface Tally {
  sent: number;
  acked: Set<string>;
  unavailable: number;
  other: Map<number, number>;
  /** Requests with no answer in time: must stay 0 (a full disk must not hang ingest). */
  hung: number;
}

describe.skipIf(cannotMount !== undefined && !inCi)('a full disk under burnrate start (embedded, tmpfs)', () => {
  let around: Surroundings;
  let mnt: TempDir;
  let mounted = false;
  let burnrate: BurnrateProcess | undefined;
  let env: Record<string, string>;
  let dataDir: string;

  beforeAll(async () => {
    // Under CI=true a machine that cannot mount fails the run instead of skipping it.
    if (cannotMount) throw new Error(`CI=true and ${cannotMount}`);
    around = await startSurroundings();
    mnt = await tempDir('burnrate-tmpfs-');
    mountTmpfs(mnt.path, `size=${TMPFS_SIZE}`);
    mounted = true;
    dataDir = join(mnt.path, 'data');
    env = { ...around.env, BURNRATE_DATA_DIR: dataDir };
  });

  afterAll(async () => {
    if (burnrate) await burnrate.kill9();
    if (mounted) unmount(mnt.path);
    await mnt?.cleanup();
    await around?.close();
  });

  let seq = 0;
  const post = async (url: string, tally: Tally): Promise<{ status: number; retryAfter: string | null; ms: number }> => {
    const n = seq++;
    const records = Array.from({ length: EVENTS_PER_REQUEST }, (_, j) => ({
      event_id: `disk-full-${n}-${j}`,
      occurred_at: new Date(Date.UTC(2026, 10, 27, 9, 0, 0) + n * 1000 + j).toISOString(),
      developer_email: n % 2 === 0 ? 'alice@acme.com' : 'bob@acme.com',
      model: 'claude-opus-4-5',
      session_id: `disk-full-session-${n % 4}`,
      cost_usd: 1.5,
    }));
    tally.sent += records.length;
    const started = performance.now();
    try {
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...INGEST_AUTH },
        body: JSON.stringify(records),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.status === 200) for (const r of records) tally.acked.add(r.event_id);
      else if (res.status === 503) tally.unavailable += 1;
      else tally.other.set(res.status, (tally.other.get(res.status) ?? 0) + 1);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: performance.now() - started };
    } catch {
      tally.hung += 1;
      return { status: 0, retryAfter: null, ms: performance.now() - started };
    }
  };

  const health = async (
    url: string,
  ): Promise<{ ms: number; body: { status: string; problems: string[]; lag: Record<string, number> } }> => {
    const started = performance.now();
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);
    return { body: (await res.json()) as never, ms: performance.now() - started };
  };

  const fillerPath = (): string => join(mnt.path, 'filler');

  it('answers 503 with Retry-After while full, stays responsive, resumes by itself, and loses no acknowledged event', async () => {
    const tally: Tally = { sent: 0, acked: new Set(), unavailable: 0, other: new Map(), hung: 0 };
    burnrate = await startBurnrate(env);
    const url = burnrate.url;
    const pid = burnrate.child.pid;

    // Before: a healthy disk.
    for (let i = 0; i < 10; i++) expect((await post(url, tally)).status).toBe(200);

    // Nearly full: the bus log still takes events (acknowledged once on disk), chdb refuses to
    // insert them; the sink keeps them and retries, and /healthz says why.
    await fillDisk(fillerPath(), NEARLY_FULL_BYTES);
    for (let i = 0; i < 10; i++) expect((await post(url, tally)).status).toBe(200);
    const storeFull = await waitUntil(
      async () => {
        const h = await health(url);
        return h.body.problems.some((p) => p.startsWith('sink: burnrate-sink cannot write')) && h;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: 'the sink reporting that the store cannot take the events' },
    );
    expect(storeFull.body.status).toBe('degraded');
    expect(storeFull.body.problems.join('\n')).toMatch(/NOT_ENOUGH_SPACE/);

    // Full: the log cannot be written either.
    await fillDisk(`${fillerPath()}-rest`);
    expect((await statfs(mnt.path)).bavail).toBe(0);
    const during = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const answers = [];
        for (let i = 0; i < 25; i++) answers.push(await post(url, tally));
        return answers;
      }),
    ).then((a) => a.flat());
    // A 2xx is possible only for what really reached the disk (the segment's last page may have
    // room); everything else is refused retriably, quickly, and says when to come back.
    for (const a of during) {
      expect([200, 503]).toContain(a.status);
      if (a.status === 503) expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.ms).toBeLessThan(2_000);
    }
    expect(during.filter((a) => a.status === 503).length).toBeGreaterThan(during.length / 2);
    const degraded = await health(url);
    expect(degraded.ms).toBeLessThan(1_000);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.problems).toContainEqual(
      expect.stringMatching(/^bus: cannot write usage\.events\.v1\/0: ENOSPC: no space left on device/),
    );

    // After: space returns; nothing is restarted.
    await rm(fillerPath());
    await rm(`${fillerPath()}-rest`);
    await waitUntil(async () => (await post(url, tally)).status === 200, {
      timeoutMs: 10_000,
      message: 'a post accepted once space returned',
    });
    for (let i = 0; i < 10; i++) expect((await post(url, tally)).status).toBe(200);
    await waitUntil(
      async () => {
        const h = (await health(url)).body;
        return h.status === 'ok' && Object.values(h.lag).every((l) => l === 0);
      },
      { timeoutMs: 45_000, intervalMs: 250, message: 'healthy again with every stage caught up, without a restart' },
    );
    expect(burnrate.child.pid).toBe(pid);
    expect(burnrate.child.exitCode).toBeNull();

    // Nearly full then full again, and SIGTERM while it is: a clean, prompt exit, with events
    // acknowledged but not yet in the store.
    await fillDisk(fillerPath(), NEARLY_FULL_BYTES);
    for (let i = 0; i < 5; i++) expect((await post(url, tally)).status).toBe(200);
    await fillDisk(`${fillerPath()}-rest`);
    for (let i = 0; i < 5; i++) await post(url, tally);
    const stopping = performance.now();
    expect(await burnrate.stop()).toBe(0);
    const stopMs = performance.now() - stopping;
    expect(stopMs).toBeLessThan(15_000);
    burnrate = undefined;

    // What was acknowledged while nearly full, but not yet copied to the store, is in the bus
    // log: a restart with space catches up.
    await rm(fillerPath());
    await rm(`${fillerPath()}-rest`);
    burnrate = await startBurnrate(env);
    const restarted = burnrate.url;
    await waitUntil(async () => Object.values((await health(restarted)).body.lag).every((l) => l === 0), {
      timeoutMs: 30_000,
      intervalMs: 250,
      message: 'all stages caught up after the restart',
    });
    expect(await burnrate.stop()).toBe(0);
    burnrate = undefined;

    const store = await createChdbStore({ dataDir: join(dataDir, 'chdb'), log: createLogger({ level: 'silent' }) });
    try {
      const stored = new Set((await store.listUsageEvents({ limit: 1_000_000 })).map((e) => e.event_id));
      expect([...tally.acked].filter((id) => !stored.has(id))).toEqual([]);
      // Exactly once, and a refused batch left nothing behind: what is stored is what was acknowledged.
      expect(await store.countUsageEvents()).toBe(stored.size);
      expect([...stored].filter((id) => !tally.acked.has(id))).toEqual([]);
      expect(tally.hung).toBe(0);
      expect([...tally.other]).toEqual([]);
      console.log(
        `disk full: sent ${tally.sent}, acknowledged ${tally.acked.size}, stored ${stored.size}, ` +
          `503s ${tally.unavailable} (${tally.unavailable * EVENTS_PER_REQUEST} events, every one with Retry-After), ` +
          `/healthz while full ${Math.round(degraded.ms)} ms, SIGTERM while full exited 0 in ${Math.round(stopMs)} ms`,
      );
    } finally {
      await store.close();
    }
  }, 120_000);

  it('refuses to start on a full disk or a read-only one, naming the directory and the reason', async () => {
    await fillDisk(fillerPath());
    const full = join(mnt.path, 'another');
    const started = performance.now();
    await expect(startBurnrate({ ...env, BURNRATE_DATA_DIR: full })).rejects.toThrow(
      `data directory ${full} is not writable: no space left on device (ENOSPC)`,
    );
    await rm(fillerPath());

    const readOnly = join(mnt.path, 'ro');
    await mkdir(readOnly);
    mountTmpfs(readOnly, 'size=1m,ro');
    try {
      await expect(startBurnrate({ ...env, BURNRATE_DATA_DIR: join(readOnly, 'data') })).rejects.toThrow(
        `data directory ${join(readOnly, 'data')} cannot be created: read-only file system (EROFS)`,
      );
    } finally {
      unmount(readOnly);
    }
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
