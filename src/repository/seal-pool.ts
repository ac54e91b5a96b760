// Worker threads that compress and seal blobs in parallel with chunking and hashing on the main thread,
// and that read, chunk, hash and seal whole small files (where the main thread would otherwise spend
// its time on one system call and one message per tiny file). Workers never see storage; results come
// back to the caller, which packs them in order of completion.

import type { ChunkerParams } from '../chunker/params.js';
import { RepoError } from '../core/errors.js';
import { threadsPerCore, transferable, WorkerPool } from '../core/worker-pool.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import type { BlobType, Compression } from './blob.js';
import { decodeFilesReply, encodeFilesJob, type FileReply, type FilesJob, type FilesReply } from './file-batch.js';
import type { SealJob, SealReply, SealWorkerData } from './seal-worker.js';

interface QueuedFile {
  path: Buffer;
  limit: number;
  resolve: (r: FileReply) => void;
  reject: (e: unknown) => void;
}

/**
 * Small files are handed to workers in batches of at most this many, so one message carries many files.
 * With the archiver's 64 small files in flight, 16 keeps four batches queued, so a worker that finishes
 * one starts the next while the main thread takes the reply: kernel tree first backup (warm, 8 pairs)
 * 3 % less wall time than with 32; 8 was no better than 16.
 */
const FILES_PER_BATCH = 16;

export function defaultWorkerCount(): number {
  // One per core but the main thread's, which walks the tree, stats every entry, chunks and hashes large
  // files and writes packs. Measured on 2 cores (kernel tree, warm cache): 1 worker 11.6 s and 295-338 MiB
  // peak RSS, 2 workers 12.3-13.6 s and 360-387 MiB; from a cold cache 2 workers win (18 s vs 21 s)
  // because reads overlap, but memory is part of the target.
  return threadsPerCore(1);
}

export class SealPool {
  private readonly pool: WorkerPool<SealJob | FilesJob, SealReply | FilesReply>;
  private queue: QueuedFile[] = [];
  private flushScheduled = false;

  private constructor(url: URL, data: SealWorkerData, count: number) {
    this.pool = new WorkerPool(url, count, data);
  }

  /** Whether the worker script is there (it is not when tests run the sources without a build). */
  static available(): boolean {
    return siblingWorkerUrl(import.meta.url, 'seal-worker.js') !== undefined;
  }

  /** A pool, or undefined when workers are off or the worker script is not available. */
  static create(key: Uint8Array, chunker: ChunkerParams, count: number, pad = false): SealPool | undefined {
    if (count < 1) return undefined;
    const url = siblingWorkerUrl(import.meta.url, 'seal-worker.js');
    return url ? new SealPool(url, { key, chunker, pad }, count) : undefined;
  }

  get size(): number {
    return this.pool.threads;
  }

  /** Compresses (at `level`) and seals one blob on the least busy worker. `plain` is copied unless donated. */
  async seal(
    type: BlobType,
    id: Buffer,
    plain: Buffer,
    level: number,
    donate = false,
  ): Promise<{ sealed: Buffer; compression: Compression }> {
    // A donated buffer that owns its whole ArrayBuffer moves to the worker without a copy.
    const r = (await this.pool.run(
      (job) => ({ kind: 'seal', job, type, id, plain, level }) satisfies SealJob,
      donate ? transferable(plain) : [],
    )) as SealReply;
    if (r.error !== undefined || !r.sealed)
      throw new RepoError('INVALID_ARGUMENT', `sealing a blob failed: ${r.error}`);
    return {
      sealed: Buffer.from(r.sealed.buffer, r.sealed.byteOffset, r.sealed.byteLength),
      compression: r.compression as Compression,
    };
  }

  /**
   * Reads a whole file on a worker, cuts it into chunks, and returns each chunk's id and sealed bytes
   * (compressed at `level`). A file found larger than `limit` bytes comes back as 'too-large'.
   */
  sealFile(path: Buffer, limit: number, level: number): Promise<FileReply> {
    return new Promise((resolve, reject) => {
      this.queue.push({ path, limit, resolve, reject });
      if (this.queue.length >= FILES_PER_BATCH * this.size) this.flushFiles(level);
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Files requested in the same turn of the event loop travel together.
        setImmediate(() => this.flushFiles(level));
      }
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private flushFiles(level: number): void {
    this.flushScheduled = false;
    const queued = this.queue;
    this.queue = [];
    // Spread the batch over the workers so that one message does not keep one core busy alone.
    const per = Math.max(1, Math.min(FILES_PER_BATCH, Math.ceil(queued.length / this.size)));
    for (let at = 0; at < queued.length; at += per) {
      const batch = queued.slice(at, at + per);
      const body = encodeFilesJob(level, batch);
      this.pool
        .run((job): FilesJob => ({ ...body, job }), [body.paths.buffer as ArrayBuffer])
        .then((r) => {
          const reply = r as FilesReply;
          if (reply.error !== undefined)
            throw new RepoError('SOURCE', `reading and sealing a batch of files failed: ${reply.error}`);
          decodeFilesReply(reply).forEach((f, i) => batch[i].resolve(f));
        })
        .catch((err: unknown) => batch.forEach((q) => q.reject(err)));
    }
  }
}
