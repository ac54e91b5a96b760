// The totals of a backup (files and bytes it will read), counted ahead of the backup by a walk of its own.
// On a worker thread it does not compete with the backup's walk for the main thread, so it finishes early:
// that is what gives progress a percentage and an ETA. It applies the backup's own exclusions, so its
// totals are the backup's. It only reads metadata and never fails a backup.

import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { siblingWorkerUrl } from '../core/worker-script.js';
import { compileExcluder, tooLarge } from './exclude-fs.js';
import type { ExcludeRule } from './exclude.js';

export interface ScanOptions {
  excludes?: ExcludeRule[];
  excludeIfPresent?: string[];
  excludeLargerThan?: number;
  oneFileSystem?: boolean;
}

export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

/** Entries between two looks at the clock (or two turns of the event loop when scanning in-thread). */
const SLICE = 512;

/** Walks `paths` depth-first, synchronously, yielding after every SLICE entries; `t` grows as it goes. */
export function* scanTotals(paths: string[], opts: ScanOptions, t: ScanTotals): Generator<void> {
  const excluded = compileExcluder(opts, () => undefined); // warnings are the backup's to give
  let n = 0;
  const walk = function* (p: string, rootDev: number | undefined): Generator<void> {
    if (++n % SLICE === 0) yield;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (tooLarge(st, opts.excludeLargerThan)) return;
    if (st.isDirectory()) {
      if (rootDev !== undefined && opts.oneFileSystem && st.dev !== rootDev) return;
      let names: string[];
      try {
        names = fs.readdirSync(p);
      } catch {
        return;
      }
      for (const name of names) {
        const c = p.endsWith('/') ? p + name : `${p}/${name}`;
        if (!excluded(c)) yield* walk(c, rootDev ?? st.dev);
      }
    } else if (st.isFile()) {
      t.files++;
      t.bytes += st.size;
    }
  };
  for (const p of [...new Set(paths.map((x) => path.resolve(x)))]) if (!excluded(p)) yield* walk(p, undefined);
  t.done = true;
}

export interface Scanner {
  readonly totals: ScanTotals;
  stop(): void;
}

/** Starts the scan on a worker thread (in slices on this thread when the worker script is not built). */
export function startScan(paths: string[], opts: ScanOptions, signal?: AbortSignal): Scanner {
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  const url = siblingWorkerUrl(import.meta.url, 'scan-worker.js');
  if (url !== undefined) {
    // Only the settings the scan needs: callbacks and the like cannot cross to a thread.
    const { excludes, excludeIfPresent, excludeLargerThan, oneFileSystem } = opts;
    const worker = new Worker(url, {
      workerData: { paths, opts: { excludes, excludeIfPresent, excludeLargerThan, oneFileSystem } },
    });
    worker.unref(); // a scan never keeps the process alive
    worker.on('message', (m: ScanTotals) => Object.assign(totals, m));
    worker.on('error', () => undefined); // only progress is lost
    const stop = () => void worker.terminate();
    signal?.addEventListener('abort', stop, { once: true });
    return { totals, stop };
  }
  let stopped = false;
  const it = scanTotals(paths, opts, totals);
  const step = () => {
    if (stopped || signal?.aborted) return;
    if (!it.next().done) setImmediate(step).unref();
  };
  setImmediate(step).unref();
  return {
    totals,
    stop: () => {
      stopped = true;
    },
  };
}
