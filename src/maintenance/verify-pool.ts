// The threads of `check --read-data`, in two ways of working:
// - a local repository: each thread takes the next pack from a list shared with the others (an atomic
//   counter), reads it itself and posts what it found. The main thread, busy walking snapshots in long
//   stretches without turning its event loop, neither reads nor hands out packs, so no thread ever waits
//   for it, and a thread that finishes early simply takes more packs;
// - other backends: the main thread loads each pack and hands it to a free thread (never queued behind a
//   busy one, which would leave another idle).
// Each thread gets a small young generation: its live heap is tiny, but V8 would otherwise grow the nursery
// to ~50 MiB per thread on the short-lived objects every blob leaves (deciphers, views). Its old generation
// is bounded too (oldGenerationMb): otherwise V8 lets 20-25 MiB of promoted garbage pile up per thread
// before its first full collection.
// With no worker script (tests of the sources without a build) or 0 threads, packs are verified inline.

import { Worker } from 'node:worker_threads';
import { ENTRY_SIZE } from '../repository/blob.js';
import type { MasterKey } from '../repository/master-key.js';
import { PackStreamer } from './pack-stream.js';
import { PackVerifier } from './pack-verifier.js';
import { verifyPack, type VerifyPackJob, type VerifyPackResult } from './verify-pack.js';

/** Young generation of a verify thread, MiB (V8's default is 16–64 on 64-bit machines). */
const YOUNG_GENERATION_MB = 4;

/**
 * Old generation of a verify thread: a fixed part plus room for the entries of the largest pack, which a
 * thread holds as objects twice over (the pack's header and the index's records) while it checks the pack.
 * Measured: a pack of 95,000 tiny blobs needs 48-56 MiB (about 550 bytes an entry), so 1 KiB an entry
 * leaves a margin; V8 ends a thread that outgrows its limit, and the check with it.
 * With the kernel tree's repository (at most 10,033 entries a pack: 26 MiB) the two threads hold 16 MiB
 * less than with V8's own limit, at the same speed.
 */
export function oldGenerationMb(maxEntriesPerPack: number): number {
  return 16 + Math.ceil(maxEntriesPerPack / 1024);
}

/** Packs of a local repository, taken one at a time by whichever thread is free. */
export interface PackList {
  /** The repository's directory. */
  dir: string;
  packs: string[];
  /** Every pack's index entries (writeEntries), back to back in shared memory: pack i's are bytes bounds[i]..bounds[i+1]. */
  records: Uint8Array;
  bounds: number[];
  /** Shared counter: the next pack to take. */
  next: Int32Array;
}

export interface VerifyWorkerData {
  key: Uint8Array;
  list?: PackList;
}

/** The most index entries any pack of `list` has. */
function maxEntries(list: PackList): number {
  let most = 0;
  for (let i = 0; i + 1 < list.bounds.length; i++) most = Math.max(most, list.bounds[i + 1] - list.bounds[i]);
  return most / ENTRY_SIZE;
}

/** Verifies the next pack nobody has taken yet; undefined when none is left. */
export function verifyNext(list: PackList, streamer: PackStreamer): VerifyPackResult | undefined {
  const i = Atomics.add(list.next, 0, 1);
  if (i >= list.packs.length) return undefined;
  const records = Buffer.from(
    list.records.buffer,
    list.records.byteOffset + list.bounds[i],
    list.bounds[i + 1] - list.bounds[i],
  );
  return streamer.verify(i, list.packs[i], records);
}

function startWorker(url: URL, data: VerifyWorkerData, maxEntriesPerPack: number): Worker {
  return new Worker(url, {
    workerData: data,
    resourceLimits: {
      maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
      maxOldGenerationSizeMb: oldGenerationMb(maxEntriesPerPack),
    },
  });
}

/** Verifies every pack of `list` on `count` threads (inline if 0 or no script), reporting each result. */
export async function verifyList(
  url: URL | undefined,
  count: number,
  key: MasterKey,
  list: PackList,
  onResult: (r: VerifyPackResult) => void,
): Promise<void> {
  if (url === undefined || count === 0) {
    const streamer = new PackStreamer(list.dir, new PackVerifier(key));
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve)); // the snapshot walk goes on between packs
      const r = verifyNext(list, streamer);
      if (r === undefined) return;
      onResult(r);
    }
  }
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = count;
      for (let i = 0; i < count; i++) {
        const w = startWorker(url, { key: key.bytes(), list }, maxEntries(list));
        workers.push(w);
        w.on('message', (r: VerifyPackResult | null) => {
          try {
            if (r !== null) onResult(r);
            else if (--running === 0) resolve(); // every thread found the list empty
          } catch (err) {
            reject(err);
          }
        });
        w.on('error', reject);
        // Threads stay up until ended below, so an exit before that is a crash.
        w.on('exit', (code) =>
          reject(new Error(`a verify thread stopped (exit code ${code}) before the packs were checked`)),
        );
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

interface Thread {
  worker: Worker;
  done?: { resolve: (r: VerifyPackResult) => void; reject: (e: unknown) => void };
}

/** Threads that verify packs the main thread loads, each pack on the next free thread. */
export class VerifyPool {
  readonly #idle: Thread[] = [];
  readonly #all: Thread[] = [];
  readonly #waiting: (() => void)[] = [];
  #inline?: PackVerifier;
  #failed?: unknown;

  /** `maxEntriesPerPack`: the most index entries any pack to verify has (it sizes each thread's heap). */
  constructor(
    url: URL | undefined,
    count: number,
    private readonly key: MasterKey,
    maxEntriesPerPack: number,
  ) {
    if (url === undefined) return;
    for (let i = 0; i < count; i++) {
      const t: Thread = { worker: startWorker(url, { key: key.bytes() }, maxEntriesPerPack) };
      t.worker.on('message', (r: VerifyPackResult) => {
        const done = t.done;
        t.done = undefined;
        t.worker.unref(); // an idle pool does not keep the process alive
        this.#idle.push(t);
        this.#waiting.shift()?.();
        done?.resolve(r);
      });
      t.worker.on('error', (err) => this.#fail(err));
      t.worker.on('exit', (code) => {
        if (t.done !== undefined)
          this.#fail(new Error(`a verify thread stopped (exit code ${code}) while checking a pack`));
      });
      t.worker.unref();
      this.#all.push(t);
      this.#idle.push(t);
    }
  }

  /** Threads verifying packs (0: packs are verified on the calling thread). */
  get threads(): number {
    return this.#all.length;
  }

  /** Verifies a pack on the next free thread; the buffers in `transfer` move there without a copy. */
  async verify(job: VerifyPackJob, transfer: ArrayBuffer[]): Promise<VerifyPackResult> {
    if (this.#all.length === 0) {
      const buffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      return verifyPack(
        (this.#inline ??= new PackVerifier(this.key)),
        job.job,
        job.pack,
        buffer(job.bytes),
        buffer(job.indexed),
      );
    }
    while (this.#idle.length === 0 && this.#failed === undefined)
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    if (this.#failed !== undefined) throw this.#failed;
    const t = this.#idle.pop()!;
    return new Promise((resolve, reject) => {
      t.done = { resolve, reject };
      t.worker.ref();
      t.worker.postMessage(job, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#all.splice(0).map((t) => t.worker.terminate()));
  }

  #fail(err: unknown): void {
    this.#failed ??= err;
    for (const t of this.#all) {
      t.done?.reject(this.#failed);
      t.done = undefined;
    }
    for (const wake of this.#waiting.splice(0)) wake();
  }
}
