// Runs the analysis of a list of files on worker threads (files spread over them), or on the calling thread.
// Every file is read by exactly one thread, exactly once; the threads' chunk tables are merged here.

import { Worker } from 'node:worker_threads';
import { RepoError } from '../core/errors.js';
import { threadsPerCore } from '../core/worker-pool.js';
import { siblingWorkerUrl } from '../core/worker-script.js';
import {
  Analyzer,
  ChunkTable,
  type AnalyzerConfig,
  type FileResult,
  type FromWorker,
  type ToWorker,
} from './analyzer.js';
import type { FileJob } from './sources.js';

/** One per core, at most 8: each thread holds a chunker window per setting (up to ~100 MiB with the full sweep). */
export function defaultAnalyzeWorkers(): number {
  return threadsPerCore();
}

export interface RunOptions {
  /** Worker threads; 0 runs everything on the calling thread. Falls back to 0 when the worker script is not built. */
  workers: number;
  signal?: AbortSignal;
  /** Called after each file. */
  onFile?: (job: FileJob, result: FileResult) => void;
}

export interface RunResult {
  results: FileResult[];
  tables: ChunkTable[];
  workers: number;
}

export async function runJobs(cfg: AnalyzerConfig, jobs: FileJob[], opts: RunOptions): Promise<RunResult> {
  const url = siblingWorkerUrl(import.meta.url, 'worker.js');
  const count = url === undefined ? 0 : Math.min(opts.workers, jobs.length);
  const results: FileResult[] = new Array(jobs.length);
  const tables = cfg.settings.map(() => new ChunkTable());
  const interrupted = () => new RepoError('INTERRUPTED', 'analysis interrupted', {}, { cause: opts.signal?.reason });
  if (count < 1) {
    const a = new Analyzer(cfg);
    for (const [i, job] of jobs.entries()) {
      if (opts.signal?.aborted) throw interrupted();
      results[i] = await a.file(job.path, job.snaps[0]);
      opts.onFile?.(job, results[i]);
    }
    return { results, tables: a.tables, workers: 0 };
  }

  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let finished = 0;
      const onAbort = () => reject(interrupted());
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      for (let w = 0; w < count; w++) {
        const worker = new Worker(url!, { workerData: cfg });
        workers.push(worker);
        let inFlight = 0;
        const feed = () => {
          // Two files queued per thread, so it starts the next while the pool handles a reply.
          while (inFlight < 2 && next < jobs.length) {
            const job = next++;
            inFlight++;
            worker.postMessage({
              kind: 'file',
              job,
              path: jobs[job].path,
              snap: jobs[job].snaps[0],
            } satisfies ToWorker);
          }
          if (inFlight === 0) worker.postMessage({ kind: 'finish' } satisfies ToWorker);
        };
        worker.on('message', (m: FromWorker) => {
          if (m.kind === 'file') {
            inFlight--;
            results[m.job] = m.result;
            opts.onFile?.(jobs[m.job], m.result);
            feed();
          } else if (m.kind === 'tables') {
            m.tables.forEach((t, s) => tables[s].merge(t));
            if (++finished === count) done();
          } else reject(new Error(`analyze worker failed: ${m.message}`));
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (code !== 0) reject(new Error(`analyze worker exited with code ${code}`));
        });
        feed();
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return { results, tables, workers: count };
}
