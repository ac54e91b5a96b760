// A fixed set of worker threads that each run one kind of job, or the same job function inline when no
// worker script is available or none is wanted. Jobs go to the least busy thread; buffers listed for
// transfer move without a copy. An idle pool does not keep the process alive.

import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** One thread per core, at most 8, less `spare` cores left to the main thread (at least 1). */
export function threadsPerCore(spare = 0): number {
  return Math.max(1, Math.min(8, os.availableParallelism() - spare));
}

export interface Job {
  job: number;
}

interface Slot {
  worker: Worker;
  busy: number;
}

export interface WorkerPoolOptions {
  /** Threads to start now (default all); `grow` starts more later, up to the pool's count. */
  start?: number;
}

export class WorkerPool<J extends Job, R extends Job> {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (r: R) => void; reject: (e: unknown) => void }>();
  private nextJob = 1;
  private failed?: unknown;

  /** `url` undefined or `count` 0: every job runs inline through `inline` (and fails without one). */
  constructor(
    private readonly url: URL | undefined,
    private readonly count: number,
    private readonly workerData: unknown,
    private readonly inline?: (job: J) => R,
    options: WorkerPoolOptions = {},
  ) {
    this.grow(options.start ?? count);
  }

  /** Starts threads until `n` run (at most the pool's count); a thread costs 10-15 MiB and a fraction of a second to start. */
  grow(n: number): void {
    if (this.url === undefined) return;
    while (this.slots.length < Math.min(n, this.count)) {
      const worker = new Worker(this.url, { workerData: this.workerData });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (r: R) => {
        if (--slot.busy === 0) worker.unref();
        const p = this.pending.get(r.job);
        this.pending.delete(r.job);
        p?.resolve(r);
      });
      worker.on('error', (err) => this.fail(err));
      worker.unref();
      this.slots.push(slot);
    }
  }

  /** Jobs queued or running on the least busy thread (Infinity without threads). */
  get leastBusy(): number {
    return this.slots.reduce((min, s) => Math.min(min, s.busy), Infinity);
  }

  /** Threads actually running jobs (0 means jobs run inline). */
  get threads(): number {
    return this.slots.length;
  }

  /** Runs `make(jobNumber)`; `transfer` lists buffers that move to the worker (unusable here afterwards). */
  run(make: (job: number) => J, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    const job = make(this.nextJob++);
    if (this.slots.length === 0) {
      if (this.inline === undefined) return Promise.reject(new Error('no worker threads and no inline fallback'));
      try {
        return Promise.resolve(this.inline(job));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    if (slot.busy++ === 0) slot.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(job.job, { resolve, reject });
      slot.worker.postMessage(job, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }

  private fail(err: unknown): void {
    this.failed = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** The buffer's memory as a transfer list entry, when it owns all of it (a slice of a shared one must be copied). */
export function transferable(data: Uint8Array | undefined): ArrayBuffer[] {
  return data !== undefined && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    ? [data.buffer as ArrayBuffer]
    : [];
}
