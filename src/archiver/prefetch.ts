// Warms the page cache for small files shortly before a worker thread reads them.
// The worker reads one file at a time with blocking calls, so from a cold cache it mostly waits on the
// disk; these reads run on the thread pool, several at once, and their bytes are thrown away. They are
// hints only: any failure is ignored (the worker's own read reports problems), and they never change
// what a backup stores.

import fs from 'node:fs';

/** Files read ahead at once, and how much of each (readahead brings the rest of a larger file). */
const PREFETCH_FILES = 16;
const PREFETCH_BYTES = 128 * 1024;

export class Prefetcher {
  private readonly queue: { path: Buffer; size: number }[] = [];
  private readonly free: Buffer[] = Array.from({ length: PREFETCH_FILES }, () => Buffer.allocUnsafeSlow(PREFETCH_BYTES));

  private waiters: (() => void)[] = [];

  /** Resolves once every hint given so far has been carried out (or given up). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.free.length === PREFETCH_FILES) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  hint(path: Buffer, size: number): void {
    if (size <= 0) return;
    this.queue.push({ path, size });
    this.pump();
  }

  private pump(): void {
    if (this.queue.length === 0 && this.free.length === PREFETCH_FILES) {
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    while (this.free.length > 0 && this.queue.length > 0) {
      const { path, size } = this.queue.shift()!;
      const buf = this.free.pop()!;
      const done = () => {
        this.free.push(buf);
        this.pump();
      };
      // O_NOATIME or nothing: a read that changed the atime would change what the backup records.
      fs.open(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | (fs.constants.O_NOATIME ?? 0), (err, fd) => {
        if (err) return done();
        fs.read(fd, buf, 0, Math.min(size, buf.length), 0, () => fs.close(fd, done));
      });
    }
  }
}
