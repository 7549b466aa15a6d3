import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BurnrateError } from '@burnrate/core';

/** Who holds a data directory: the `burnrate start` process and the ports it serves. */
export interface LockOwner {
  pid: number;
  port: number;
  grpc_port: number | null;
  started_at: string;
}

export interface InstanceLock {
  readonly owner: LockOwner;
  /** Removes the lock file, if it is still ours. */
  release(): Promise<void>;
}

export type LockAttempt = { held: InstanceLock } | { busy: LockOwner };

const codeOf = (err: unknown): unknown => (err as { code?: unknown }).code;

/** Whether `pid` is a running process (one of another user's answers EPERM, and runs). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return codeOf(err) === 'EPERM';
  }
}

/**
 * Whether `pid` runs `burnrate start`, where /proc says (Linux): after a crash its pid may have
 * gone to another program, which must be neither waited for nor signalled. Elsewhere, assumed.
 */
async function runsBurnrateStart(pid: number): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch (err) {
    return (
      codeOf(err) !== 'ENOENT' ||
      !(await readFile('/proc/self/cmdline', 'utf8').then(
        () => true,
        () => false,
      ))
    );
  }
  const args = cmdline.split('\0');
  return args.includes('start') && args.some((a) => /burnrate|main\.ts/.test(a));
}

export const lockPath = (dataDir: string): string => join(dataDir, 'burnrate.lock');

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return typeof parsed.pid === 'number' && Number.isInteger(parsed.pid) && parsed.pid > 0 ? (parsed as LockOwner) : undefined;
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return undefined;
    // Torn or unreadable: a process that died while writing it. Taken as stale.
    return undefined;
  }
}

/**
 * Takes `<dataDir>/burnrate.lock` for this process: the embedded store and the bus log of a data
 * directory belong to one process at a time. The file is created exclusively and names this
 * process and its ports; one left by a process that is gone (kill -9, a crash) is stale and taken
 * over. When a running process holds it, says who (a successor hands over from it).
 */
export async function acquireInstanceLock(dataDir: string, ports: { port: number; grpcPort: number | null }): Promise<LockAttempt> {
  const path = lockPath(dataDir);
  const owner: LockOwner = { pid: process.pid, port: ports.port, grpc_port: ports.grpcPort, started_at: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(`${JSON.stringify(owner)}\n`);
        await file.datasync();
      } finally {
        await file.close();
      }
      return {
        held: {
          owner,
          release: async () => {
            if ((await readOwner(path))?.pid === process.pid) await rm(path, { force: true });
          },
        },
      };
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') {
        throw new BurnrateError(
          'CONFIG_INVALID',
          `data directory ${dataDir}: cannot create its lock file ${path}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    }
    const current = await readOwner(path);
    if (current !== undefined && current.pid !== process.pid && isRunning(current.pid) && (await runsBurnrateStart(current.pid))) {
      return { busy: current };
    }
    await rm(path, { force: true });
  }
  throw new BurnrateError(
    'CONFIG_INVALID',
    `data directory ${dataDir}: its lock file ${path} keeps reappearing; is another Burnrate starting?`,
  );
}

/** Resolves once `owner` no longer runs or no longer holds the lock; false after `timeoutMs`. */
export async function waitForRelease(dataDir: string, owner: LockOwner, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const current = await readOwner(lockPath(dataDir));
    if (current?.pid !== owner.pid || !isRunning(owner.pid)) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
