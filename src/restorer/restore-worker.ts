// Worker thread body for restore: runs pack jobs (open blobs, write files) so every core writes files.
// It holds the master key only in memory (from workerData) and reads nothing from storage itself.

import { parentPort, workerData } from 'node:worker_threads';
import { collectYoungGarbage, garbageBudget } from '../core/worker-gc.js';
import { MasterKey } from '../repository/master-key.js';
import { runPackJob, type PackJob, type WriterSettings } from './pack-writer.js';

const setup = workerData as { key: Uint8Array; settings: WriterSettings };
const key = MasterKey.fromBytes(setup.key);

const dropped = garbageBudget(2 * 1024 * 1024);

parentPort!.on('message', (job: PackJob) => {
  const result = runPackJob(key, setup.settings, job, dropped);
  // The window's bytes are freed now, not at the next full collection: their buffer object has usually
  // outlived the young collections during the job, but moving the memory to a new (young) buffer object
  // and dropping that lets the young collection below free it (a full one after every job cost more).
  const data = job.data?.buffer as ArrayBuffer | undefined;
  if (data !== undefined && data.byteLength > 0) structuredClone(data, { transfer: [data] });
  job.data = undefined;
  collectYoungGarbage();
  parentPort!.postMessage(result);
});
