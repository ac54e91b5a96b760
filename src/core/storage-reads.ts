// How many bytes the calling thread has made the kernel fetch from storage (Linux task I/O accounting,
// `read_bytes` in /proc/thread-self/io). Reads served from the page cache do not count, so a rise tells
// a read that waited for the disk from one that was slow only because the thread was preempted: on a
// 2-core machine running three busy threads, a cached read now and then takes over a millisecond.

import fs from 'node:fs';

const FIELD = /read_bytes: (\d+)/;

/** One per thread: /proc/thread-self names the thread that opens it, and each worker has its own module state. */
let fd: number | undefined;
let unavailable = false;
const text = Buffer.alloc(512);

/**
 * Bytes fetched from storage on behalf of this thread so far, or undefined where the kernel does not
 * account them (not Linux, no task I/O accounting, /proc not mounted). One pread of about 3 µs.
 */
export function storageReadBytes(): number | undefined {
  if (unavailable) return undefined;
  try {
    fd ??= fs.openSync('/proc/thread-self/io', 'r');
    const n = fs.readSync(fd, text, 0, text.length, 0);
    const m = FIELD.exec(text.toString('latin1', 0, n));
    if (m) return Number(m[1]);
  } catch {
    // fall through: treat as unavailable from now on
  }
  unavailable = true;
  return undefined;
}
