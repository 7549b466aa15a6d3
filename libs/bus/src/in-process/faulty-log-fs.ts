import type { LogFile, LogFs } from './log-fs.ts';
import { nodeLogFs } from './log-fs.ts';

export interface Faults {
  /** Bytes that may still be written before writes fail with ENOSPC (a write that reaches it is cut short first). */
  space: number;
  /** Each write call writes at most this many bytes, without an error (what a real write(2) may do). */
  maxWrite: number;
  /** Writes report 0 bytes and no error. */
  zeroWrites: boolean;
  /** The next fdatasync calls fail with EIO while this is above 0. */
  failDatasyncs: number;
  /** Truncating an open file fails with this code (EIO; a copy-on-write file system may say ENOSPC). */
  failTruncate: string | undefined;
  /** Opening a file for writing fails with this code. */
  failOpen: string | undefined;
  /** Renames fail with this code. */
  failRename: string | undefined;
}

export const ioError = (code: string, syscall: string): Error => {
  const text: Record<string, string> = {
    ENOSPC: 'no space left on device',
    EIO: 'i/o error',
    EROFS: 'read-only file system',
  };
  return Object.assign(new Error(`${code}: ${text[code] ?? 'failed'}, ${syscall}`), { code, syscall });
};

/**
 * The real file system with faults switched on and off by a test: a disk that fills up, writes
 * cut short, fdatasync, truncation, open or rename failing. Counts the writes it saw.
 */
export function faultyLogFs(): { fs: LogFs; faults: Faults; writes: () => number } {
  const faults: Faults = {
    space: Infinity,
    maxWrite: Infinity,
    zeroWrites: false,
    failDatasyncs: 0,
    failTruncate: undefined,
    failOpen: undefined,
    failRename: undefined,
  };
  let writes = 0;
  const wrap = (file: LogFile): LogFile => ({
    async write(buffer, offset, length) {
      writes += 1;
      if (faults.zeroWrites) return 0;
      if (faults.space <= 0) throw ioError('ENOSPC', 'write');
      const n = await file.write(buffer, offset, Math.min(length, faults.maxWrite, faults.space));
      faults.space -= n;
      return n;
    },
    async datasync() {
      if (faults.failDatasyncs > 0) {
        faults.failDatasyncs -= 1;
        throw ioError('EIO', 'fdatasync');
      }
      await file.datasync();
    },
    async truncate(length) {
      if (faults.failTruncate) throw ioError(faults.failTruncate, 'ftruncate');
      await file.truncate(length);
    },
    size: () => file.size(),
    close: () => file.close(),
  });
  const fs: LogFs = {
    ...nodeLogFs,
    async openAppend(path) {
      if (faults.failOpen) throw ioError(faults.failOpen, 'open');
      return wrap(await nodeLogFs.openAppend(path));
    },
    async openTruncate(path) {
      if (faults.failOpen) throw ioError(faults.failOpen, 'open');
      return wrap(await nodeLogFs.openTruncate(path));
    },
    async rename(from, to) {
      if (faults.failRename) throw ioError(faults.failRename, 'rename');
      await nodeLogFs.rename(from, to);
    },
  };
  return { fs, faults, writes: () => writes };
}
