import { mkdir, open, readdir, readFile, rename, rm, truncate } from 'node:fs/promises';

/** An open file of the partition log: only the calls the log makes, so a test can make any of them fail. */
export interface LogFile {
  /** Writes at the end of the file (it is opened for appending); may write fewer bytes than asked. */
  write(buffer: Uint8Array, offset: number, length: number): Promise<number>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The file system as the partition log uses it. The log owns this port: production passes
 * `nodeLogFs`, unit tests wrap it to cut writes short or fail them (a full disk, an I/O error).
 */
export interface LogFs {
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  /** Opens (creating if missing) for appending. */
  openAppend(path: string): Promise<LogFile>;
  /** Creates or empties, for writing from the start. */
  openTruncate(path: string): Promise<LogFile>;
  truncate(path: string, length: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string): Promise<void>;
  /** Makes the directory's entries (a new segment, a rename) durable. */
  syncDir(dir: string): Promise<void>;
}

async function openFile(path: string, flags: 'a' | 'w'): Promise<LogFile> {
  const handle = await open(path, flags);
  return {
    write: async (buffer, offset, length) => (await handle.write(buffer, offset, length)).bytesWritten,
    datasync: () => handle.datasync(),
    truncate: (length) => handle.truncate(length),
    size: async () => (await handle.stat()).size,
    close: () => handle.close(),
  };
}

export const nodeLogFs: LogFs = {
  mkdir: async (dir) => void (await mkdir(dir, { recursive: true })),
  readdir: (dir) => readdir(dir),
  readFile: (path) => readFile(path),
  openAppend: (path) => openFile(path, 'a'),
  openTruncate: (path) => openFile(path, 'w'),
  truncate: (path, length) => truncate(path, length),
  rename: (from, to) => rename(from, to),
  rm: (path) => rm(path, { force: true }),
  async syncDir(dir) {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/**
 * Writes all of `buffer`, continuing after short writes. A write that makes no progress without
 * an error is an error too: retrying it would spin.
 */
export async function writeFully(file: LogFile, buffer: Uint8Array): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const n = await file.write(buffer, done, buffer.length - done);
    if (!(n > 0)) {
      throw Object.assign(new Error(`write made no progress after ${done} of ${buffer.length} bytes`), { code: 'EIO', syscall: 'write' });
    }
    done += n;
  }
}

/** `ENOSPC: no space left on device, write` — a system error without the path (it may go to /healthz). */
export function describeIoError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.replace(/ '[^']*'( -> '[^']*')?$/, '');
}
