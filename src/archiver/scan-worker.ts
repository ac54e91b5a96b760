// Worker thread body of the backup's scan (scan.ts): walks the sources and posts the totals found so far
// every 100 ms and once at the end. Reads metadata only.

import { parentPort, workerData } from 'node:worker_threads';
import { scanTotals, type ScanOptions, type ScanTotals } from './scan.js';

const INTERVAL_MS = 100;
const { paths, opts } = workerData as { paths: string[]; opts: ScanOptions };
const totals: ScanTotals = { files: 0, bytes: 0, done: false };
let last = Date.now();
for (const _ of scanTotals(paths, opts, totals)) {
  const now = Date.now();
  if (now - last >= INTERVAL_MS) {
    last = now;
    parentPort!.postMessage(totals);
  }
}
parentPort!.postMessage(totals);
