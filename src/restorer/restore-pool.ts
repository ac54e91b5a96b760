// Runs pack jobs on worker threads, or inline on the main thread when workers are off or not built.
// The pack bytes move to the worker without a copy; results carry only indexes, counts and messages.

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { siblingWorkerUrl } from '../core/worker-script.js';
import type { MasterKey } from '../repository/master-key.js';
import { runPackJob, type PackJob, type PackJobResult, type WriterSettings } from './pack-writer.js';

/** One worker per core (at most 8): the main thread mostly waits for pack reads. */
export function defaultRestoreWorkers(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

interface Slot {
  worker: Worker;
  busy: number;
}

export class RestorePool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (r: PackJobResult) => void; reject: (e: unknown) => void }>();
  private failed?: unknown;

  constructor(
    private readonly key: MasterKey,
    private readonly settings: WriterSettings,
    workers: number,
  ) {
    const url = workers > 0 ? siblingWorkerUrl(import.meta.url, 'restore-worker.js') : undefined;
    if (url === undefined) return;
    for (let i = 0; i < workers; i++) {
      const worker = new Worker(url, { workerData: { key: key.bytes(), settings } });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (r: PackJobResult) => {
        slot.busy--;
        const p = this.pending.get(r.job);
        this.pending.delete(r.job);
        p?.resolve(r);
      });
      worker.on('error', (err) => this.fail(err));
      this.slots.push(slot);
    }
  }

  /** Threads actually running jobs (0 means jobs run inline). */
  get threads(): number {
    return this.slots.length;
  }

  run(job: PackJob): Promise<PackJobResult> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (this.slots.length === 0) {
      try {
        return Promise.resolve(runPackJob(this.key, this.settings, job));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(job.job, { resolve, reject });
      const data = job.data;
      // A buffer that owns its whole ArrayBuffer moves to the worker; a slice of a shared one is copied.
      const movable = data !== undefined && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      slot.worker.postMessage(job, movable ? [data.buffer as ArrayBuffer] : []);
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
