// Whole-file reads for the seal workers, each file read exactly once: one blocking read after another
// while files come from the page cache (no thread hand-offs), several reads in flight on the thread pool
// while they come from the disk (a disk queue serves many at once). Never follows a symlink that replaced
// a file after it was listed, and never changes the atime a backup records.

import fs from 'node:fs';
import { Semaphore } from '../core/concurrency.js';
import { storageReadBytes } from '../core/storage-reads.js';

/** A file's bytes (in `buf`, which the caller hands back with `release`), or why it could not be read. */
export type ReadOutcome =
  | { status: 'read'; buf: Buffer; filled: number; sizeAfter: number; mtimeNs: string }
  /** The file has grown beyond the limit since it was listed; the caller streams it instead. */
  | { status: 'too-large' }
  | { status: 'error'; stage: 'open' | 'read'; message: string; code?: string };

/**
 * A blocking read that takes longer than this may have waited for the disk: a page-cache read of a small
 * file takes tens of microseconds, a disk read milliseconds. It counts as a disk read only if this thread
 * also made the kernel fetch bytes from storage since the last such check (storage-reads.ts): a thread
 * preempted in the middle of a cached read is slow too, and switching to thread-pool reads for that cost
 * the kernel tree's warm backup 6 % of its wall time.
 */
const DISK_READ_NS = 1_000_000n;
/** While reading from the disk, every this many batches one file is read blocking to see whether the cache is warm again. */
const PROBE_EVERY = 8;
/** Reads in flight at once while the disk is read: enough to keep its queue busy, few enough to bound the buffers. */
const READS_IN_FLIGHT = 8;
const FIRST_BUFFER = 64 * 1024;

export class WholeFileReader {
  private fromDisk = false;
  /** storageReadBytes() at the last slow read (or at the start). */
  private storageBytes = storageReadBytes();
  private batchesSinceProbe = 0;
  private readonly slots = new Semaphore(READS_IN_FLIGHT);
  // Buffers are reused from file to file: a fresh one per file made each worker's allocator hold far more
  // than it used. At most READS_IN_FLIGHT + 1 exist, each grown to the largest file read (≤ limit + 1).
  private readonly free: Buffer[] = [];

  /** `diskReadNs`: the wall time above which a blocking read is checked for a disk read (tests lower it). */
  constructor(private readonly diskReadNs = DISK_READ_NS) {}

  /**
   * Reads every file and hands each outcome to `use` (in any order when reading from disk), then
   * returns. `use` must not keep the buffer: it is reused once `use` returns.
   */
  async readAll(files: { path: Buffer; limit: number }[], use: (index: number, r: ReadOutcome) => void): Promise<void> {
    let i = 0;
    if (this.fromDisk && ++this.batchesSinceProbe >= PROBE_EVERY) {
      this.batchesSinceProbe = 0;
      this.fromDisk = false; // the next blocking read tells whether the cache is warm again
    }
    for (; i < files.length && !this.fromDisk; i++) {
      const started = process.hrtime.bigint();
      const r = this.readBlocking(files[i].path, files[i].limit);
      if (process.hrtime.bigint() - started > this.diskReadNs) this.fromDisk = this.fetchedFromStorage();
      this.deliver(i, r, use);
    }
    await Promise.all(
      files
        .slice(i)
        .map((f, k) => this.slots.run(async () => this.deliver(i + k, await this.readInFlight(f.path, f.limit), use))),
    );
  }

  /** Reading from disk (slow reads go to the thread pool, several at once) rather than from the page cache. */
  get readingFromDisk(): boolean {
    return this.fromDisk;
  }

  /** Whether this thread made the kernel read from storage since the last call; true where that is not known. */
  private fetchedFromStorage(): boolean {
    const now = storageReadBytes();
    if (now === undefined || this.storageBytes === undefined) return true;
    const grew = now > this.storageBytes;
    this.storageBytes = now;
    return grew;
  }

  private deliver(index: number, r: ReadOutcome, use: (index: number, r: ReadOutcome) => void): void {
    try {
      use(index, r);
    } finally {
      if (r.status === 'read') this.free.push(r.buf);
    }
  }

  private buffer(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(FIRST_BUFFER);
  }

  /** open, read until a short read, fstat, close: all blocking. */
  private readBlocking(path: Buffer, limit: number): ReadOutcome {
    let fd: number;
    try {
      fd = openBlocking(path);
    } catch (err) {
      return openFailed(err as NodeJS.ErrnoException);
    }
    let buf = this.buffer();
    try {
      let filled = 0;
      for (;;) {
        if (filled === room(buf, limit)) {
          if (filled > limit) {
            this.free.push(buf);
            return { status: 'too-large' };
          }
          buf = grow(buf, limit);
        }
        const n = fs.readSync(fd, buf, filled, room(buf, limit) - filled, null);
        filled += n;
        if (n > 0 && filled === room(buf, limit)) continue; // the buffer is full: there may be more
        const st = fs.fstatSync(fd, { bigint: true });
        if (n > 0 && st.size > BigInt(filled)) continue; // grew since: read on (the caller reports the change)
        return { status: 'read', buf, filled, sizeAfter: Number(st.size), mtimeNs: st.mtimeNs.toString() };
      }
    } catch (err) {
      this.free.push(buf);
      return readFailed(err as NodeJS.ErrnoException);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The same steps as readBlocking, each on the thread pool. */
  private readInFlight(path: Buffer, limit: number): Promise<ReadOutcome> {
    return new Promise((resolve) => {
      openInFlight(path, (err, fd) => {
        if (err) return resolve(openFailed(err));
        let buf = this.buffer();
        let filled = 0;
        const finish = (r: ReadOutcome) => {
          if (r.status !== 'read') this.free.push(buf);
          fs.close(fd, () => resolve(r));
        };
        const step = (): void => {
          if (filled === room(buf, limit)) {
            if (filled > limit) return finish({ status: 'too-large' });
            buf = grow(buf, limit);
          }
          fs.read(fd, buf, filled, room(buf, limit) - filled, null, (e, n) => {
            if (e) return finish(readFailed(e));
            filled += n;
            if (n > 0 && filled === room(buf, limit)) return step();
            fs.fstat(fd, { bigint: true }, (e2, st) => {
              if (e2) return finish(readFailed(e2));
              if (n > 0 && st.size > BigInt(filled)) return step();
              finish({ status: 'read', buf, filled, sizeAfter: Number(st.size), mtimeNs: st.mtimeNs.toString() });
            });
          });
        };
        step();
      });
    });
  }
}

/** At most limit + 1 bytes are read: one byte more than allowed tells a file that grew too large. */
function room(buf: Buffer, limit: number): number {
  return Math.min(buf.length, limit + 1);
}

function grow(buf: Buffer, limit: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.min(limit + 1, buf.length * 2));
  buf.copy(bigger);
  return bigger;
}

function openFailed(e: NodeJS.ErrnoException): ReadOutcome {
  return { status: 'error', stage: 'open', message: e.message, code: e.code };
}

function readFailed(e: NodeJS.ErrnoException): ReadOutcome {
  return { status: 'error', stage: 'read', message: e.message, code: e.code };
}

// O_NOATIME keeps a backup from changing the atime it records; the kernel allows it only to the
// file's owner or root, so fall back to a plain open (same rule as the archiver's own reads).
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
const NOATIME = fs.constants.O_NOATIME ?? 0;

function openBlocking(path: Buffer): number {
  if (NOATIME) {
    try {
      return fs.openSync(path, FLAGS | NOATIME);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return fs.openSync(path, FLAGS);
}

function openInFlight(path: Buffer, cb: (err: NodeJS.ErrnoException | null, fd: number) => void): void {
  if (!NOATIME) return fs.open(path, FLAGS, cb);
  fs.open(path, FLAGS | NOATIME, (err, fd) => (err?.code === 'EPERM' ? fs.open(path, FLAGS, cb) : cb(err, fd)));
}
