// A full garbage collection on demand, for worker threads that handle one large buffer per job.
// A worker's heap is tiny, so V8 sees little reason to collect, while each finished job leaves a pack's
// worth of memory outside the heap; collecting after each job keeps a worker at about one pack.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
// A fresh context created after the flag is set has the gc() global.
const gc = runInNewContext('gc') as (opts?: {
  type: 'minor' | 'major';
  execution: 'sync';
  flavor?: 'regular' | 'last-resort';
}) => void;

/** A full collection. */
export function collectGarbage(): void {
  gc();
}

/**
 * Counts the bytes of short-lived buffers a job has dropped and runs a young-generation collection
 * every `every` bytes, which frees buffers that died young: opening the blobs of one 16 MiB pack
 * drops several times that in decrypted and decompressed copies, far more than V8 waits for.
 */
export function garbageBudget(every: number): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since >= every) {
      since = 0;
      gc({ type: 'minor', execution: 'sync' });
    }
  };
}

/** A young-generation collection: frees the buffers that died young since the last one, in well under a millisecond. */
export function collectYoungGarbage(): void {
  gc({ type: 'minor', execution: 'sync' });
}

/**
 * A full collection that also hands memory back to the system: V8's "last resort" flavour compacts and
 * releases freed pages that a regular full collection keeps committed (about 10 MiB more on a 100 MiB heap).
 */
export function collectAllGarbage(): void {
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
