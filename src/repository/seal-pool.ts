// A pool of worker threads that compress and seal blobs in parallel with chunking and hashing on the main thread.
// Workers never see storage; results come back to the caller, which packs them in order of completion.

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { RepoError } from '../core/errors.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import type { BlobType } from './blob.js';
import type { Compression } from './blob.js';
import type { SealJob, SealReply } from './seal-worker.js';

interface Pending {
  resolve: (r: { sealed: Buffer; compression: Compression }) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  busy: number;
}

export function defaultWorkerCount(): number {
  // The main thread reads, chunks and hashes; the other cores compress and seal.
  return Math.max(1, Math.min(8, os.availableParallelism() - 1));
}

export class SealPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextJob = 1;
  private failed?: unknown;

  private constructor(url: URL, key: Uint8Array, count: number) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(url, { workerData: { key } });
      const slot: Slot = { worker, busy: 0 };
      worker.on('message', (r: SealReply) => this.reply(slot, r));
      worker.on('error', (err) => this.fail(err));
      worker.unref(); // an idle pool must not keep the process alive
      this.slots.push(slot);
    }
  }

  /** A pool, or undefined when workers are off or the worker script is not available. */
  static create(key: Uint8Array, count: number): SealPool | undefined {
    if (count < 1) return undefined;
    const url = siblingWorkerUrl(import.meta.url, 'seal-worker.js');
    return url ? new SealPool(url, key, count) : undefined;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Compresses (at `level`) and seals one blob on the least busy worker. `plain` is copied unless donated. */
  seal(type: BlobType, id: Buffer, plain: Buffer, level: number, donate = false): Promise<{ sealed: Buffer; compression: Compression }> {
    if (this.failed) return Promise.reject(this.failed);
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const job = this.nextJob++;
    if (slot.busy++ === 0) slot.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(job, { resolve, reject });
      // A donated buffer that owns its whole ArrayBuffer moves to the worker without a copy.
      const movable = donate && plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength;
      slot.worker.postMessage({ job, type, id, plain, level } satisfies SealJob, movable ? [plain.buffer as ArrayBuffer] : []);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }

  private reply(slot: Slot, r: SealReply): void {
    if (--slot.busy === 0) slot.worker.unref();
    const p = this.pending.get(r.job);
    if (!p) return;
    this.pending.delete(r.job);
    if (r.error !== undefined || !r.sealed) p.reject(new RepoError('INVALID_ARGUMENT', `sealing a blob failed: ${r.error}`));
    else p.resolve({ sealed: Buffer.from(r.sealed.buffer, r.sealed.byteOffset, r.sealed.byteLength), compression: r.compression as Compression });
  }

  private fail(err: unknown): void {
    this.failed = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
