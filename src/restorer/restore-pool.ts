// Runs restore pack jobs on worker threads, or inline on the main thread when workers are off or not built.

import { threadsPerCore, WorkerPool } from '../core/worker-pool.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import type { MasterKey } from '../repository/master-key.js';
import { runPackJob, type PackJob, type PackJobResult, type WriterSettings } from './pack-writer.js';

/** One worker per core (at most 8): the main thread mostly waits for pack reads. */
export function defaultRestoreWorkers(): number {
  return threadsPerCore();
}

export function createRestorePool(key: MasterKey, settings: WriterSettings, workers: number): WorkerPool<PackJob, PackJobResult> {
  const url = workers > 0 ? siblingWorkerUrl(import.meta.url, 'restore-worker.js') : undefined;
  return new WorkerPool(url, workers, { key: key.bytes(), settings }, (job: PackJob) => runPackJob(key, settings, job));
}
