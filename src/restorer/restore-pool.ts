// Who runs a restore's pack jobs: worker threads, the calling thread, or both. By default the calling thread
// is one of the writers (it has little else to do while files are written) and threads start only as the
// plan shows they will pay off: a thread takes a fraction of a second and 10-15 MiB to start, more than
// writing a small tree costs. Results never depend on who runs a job, only the speed does.

import { threadsPerCore, WorkerPool } from '../core/worker-pool.js';
import { garbageBudget } from '../core/worker-gc.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import type { MasterKey } from '../repository/master-key.js';
import { runPackJob, type PackJob, type PackJobResult, type WriterSettings } from './pack-writer.js';

/** One writer per core (at most 8), the calling thread included. */
export function defaultRestoreWorkers(): number {
  return threadsPerCore();
}

/**
 * Below both sizes a plan is written on the calling thread alone; from either one, one thread; from either
 * of the next, all. Writing a file costs 100-200 µs (most of it creating it), so the first size is about half
 * a second of work: less than that is over before a thread would have started and taken a share.
 */
const ONE_WORKER = { files: 4096, bytes: 64 << 20 };
const ALL_WORKERS = { files: 16384, bytes: 256 << 20 };

/** Jobs sent ahead to a thread, so it never waits for the calling thread to finish a job of its own. */
const QUEUED_PER_THREAD = 3;

/** A job with nothing to do: its answer tells that a thread has started and loaded its script. */
const PING: Omit<PackJob, 'job'> = {
  pack: '',
  blobs: new Uint32Array(0),
  blobIds: new Uint8Array(0),
  files: new Uint32Array(0),
  meta: new Float64Array(0),
  paths: new Uint8Array(0),
  pieceBlobs: new Uint32Array(0),
  pieceOffsets: new Float64Array(0),
};

export class RestorePool {
  private readonly pool: WorkerPool<PackJob, PackJobResult>;
  private readonly inline: (job: PackJob) => PackJobResult;
  /** Threads this restore may start. */
  private readonly max: number;
  /** Default sizing: threads start as the plan grows, and the calling thread writes too. */
  private readonly adaptive: boolean;
  private pinged = 0;
  private ready = 0;

  /** `workers` undefined: the default (see the file comment); a number: exactly that many threads, now, and 0 means the calling thread alone. */
  constructor(key: MasterKey, settings: WriterSettings, workers: number | undefined) {
    this.adaptive = workers === undefined;
    const count = workers ?? defaultRestoreWorkers() - 1;
    const url = count > 0 ? siblingWorkerUrl(import.meta.url, 'restore-worker.js') : undefined;
    this.max = url === undefined ? 0 : count;
    // Blobs opened here die young, as on a thread; a larger budget than a thread's, as this heap has more to scan.
    const dropped = garbageBudget(4 << 20);
    this.inline = (job: PackJob) => runPackJob(key, settings, job, dropped);
    this.pool = new WorkerPool(url, count, { key: key.bytes(), settings }, this.inline, {
      start: this.adaptive ? 0 : count,
    });
  }

  /** The plan so far has this many files and content bytes: starts the threads that will pay off. */
  sized(files: number, bytes: number): void {
    if (!this.adaptive) return;
    if (files >= ALL_WORKERS.files || bytes >= ALL_WORKERS.bytes) this.pool.grow(this.max);
    else if (files >= ONE_WORKER.files || bytes >= ONE_WORKER.bytes) this.pool.grow(1);
    // Each new thread gets a ping (the least busy thread is the new one); failures surface on the next job.
    for (; this.pinged < this.pool.threads; this.pinged++) {
      this.pool
        .run((n) => ({ ...PING, job: n }))
        .then(
          () => this.ready++,
          () => undefined,
        );
    }
  }

  /** Jobs worth having read and waiting at once: enough to keep every thread's queue full and the calling thread busy. */
  get lanes(): number {
    return Math.max(2, QUEUED_PER_THREAD * this.pool.threads + (this.adaptive ? 1 : 0));
  }

  /**
   * Runs a job on a thread; with default sizing, on the calling thread instead while no thread is ready
   * yet or every thread has its queue full.
   */
  run(job: Omit<PackJob, 'job'>, transfer: ArrayBuffer[]): Promise<PackJobResult> {
    if (this.adaptive && (this.ready === 0 || this.pool.leastBusy >= QUEUED_PER_THREAD)) {
      try {
        return Promise.resolve(this.inline({ ...job, job: 0 }));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return this.pool.run((n) => ({ ...job, job: n }), transfer);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
