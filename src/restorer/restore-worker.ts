// Worker thread body for restore: runs pack jobs (open blobs, write files) so every core writes files.
// It holds the master key only in memory (from workerData) and reads nothing from storage itself.

import { parentPort, workerData } from 'node:worker_threads';
import { collectGarbage, garbageBudget } from '../core/worker-gc.js';
import { MasterKey } from '../repository/master-key.js';
import { runPackJob, type PackJob, type WriterSettings } from './pack-writer.js';

const setup = workerData as { key: Uint8Array; settings: WriterSettings };
const key = MasterKey.fromBytes(setup.key);

const dropped = garbageBudget(2 * 1024 * 1024);

parentPort!.on('message', (job: PackJob) => {
  const result = runPackJob(key, setup.settings, job, dropped);
  job.data = undefined;
  collectGarbage(); // the pack and its opened blobs, before the next pack arrives
  parentPort!.postMessage(result);
});
