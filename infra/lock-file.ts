import { readFileSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An exclusive lock file holding the owner's pid, for the one-time downloads and builds test
 * setups share (Kafka's jars, the collector): one process does the work while the others wait. A
 * lock left by a dead process, or older than `timeoutMs`, is taken over. Resolves with the release.
 */
export async function acquireLockFile(
  file: string,
  options: { timeoutMs: number; doing: string; log: { info(message: string): void } },
): Promise<() => Promise<void>> {
  const deadline = Date.now() + options.timeoutMs;
  let waiting = false;
  for (;;) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? Date.now());
    // An older lock than the work may take belongs to a recycled pid.
    if ((Number.isInteger(holder) && holder > 0 && !isAlive(holder)) || age > options.timeoutMs) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${file} is still held by pid ${holder} after ${options.timeoutMs} ms`);
    if (!waiting) options.log.info(`waiting for pid ${holder} to finish ${options.doing}`);
    waiting = true;
    await sleep(250);
  }
}

/** Whether a process with this pid runs (a zombie does not: it answers signal 0 but is gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // In a container without an init nobody reaps a zombie.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
