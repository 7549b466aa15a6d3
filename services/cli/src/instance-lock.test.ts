import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { tempDir } from '@burnrate/testing';
import { describe, expect, it } from 'vitest';
import { acquireInstanceLock, lockPath, waitForRelease } from './instance-lock.ts';

const ports = { port: 8787, grpcPort: 4317 };

describe('the data directory lock', () => {
  it('is taken once, names its holder, and is released', async () => {
    await using dir = await tempDir();
    const first = await acquireInstanceLock(dir.path, ports);
    if (!('held' in first)) throw new Error('expected the lock');
    expect(JSON.parse(await readFile(lockPath(dir.path), 'utf8'))).toMatchObject({ pid: process.pid, port: 8787, grpc_port: 4317 });
    await first.held.release();
    const again = await acquireInstanceLock(dir.path, ports);
    expect('held' in again).toBe(true);
  });

  it('takes over a lock whose process is gone, and one that is torn', async () => {
    await using dir = await tempDir();
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid as number;
    await new Promise((resolve) => child.once('exit', resolve));
    await writeFile(lockPath(dir.path), JSON.stringify({ pid, port: 1, grpc_port: null, started_at: '2026-12-07T00:00:00Z' }));
    expect('held' in (await acquireInstanceLock(dir.path, ports))).toBe(true);
    await writeFile(lockPath(dir.path), '{"pid":');
    expect('held' in (await acquireInstanceLock(dir.path, ports))).toBe(true);
  });

  it('is busy while a running burnrate start holds it, and a program that reused a dead one’s pid does not count', async () => {
    await using dir = await tempDir();
    // Looks like `node …/main.ts start` to /proc.
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', 'burnrate', 'start']);
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      const owner = { pid: holder.pid as number, port: 8787, grpc_port: 4317, started_at: '2026-12-07T00:00:00Z' };
      await writeFile(lockPath(dir.path), JSON.stringify(owner));
      expect(await acquireInstanceLock(dir.path, ports)).toEqual({ busy: owner });
      expect(await waitForRelease(dir.path, owner, 100)).toBe(false);
      holder.kill();
      expect(await waitForRelease(dir.path, owner, 5_000)).toBe(true);

      await writeFile(lockPath(dir.path), JSON.stringify({ ...owner, pid: other.pid }));
      expect('held' in (await acquireInstanceLock(dir.path, ports))).toBe(true);
    } finally {
      holder.kill();
      other.kill();
    }
  });
});
