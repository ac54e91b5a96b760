// Worker thread body for `check --read-data`: verifies whole packs handed to it.
// It holds the master key only in memory (from workerData) and reads nothing from storage itself.

import { parentPort, workerData } from 'node:worker_threads';
import { collectGarbage, garbageBudget } from '../core/worker-gc.js';
import { MasterKey } from '../repository/master-key.js';
import { verifyPack, type VerifyPackJob } from './verify-pack.js';

const key = MasterKey.fromBytes((workerData as { key: Uint8Array }).key);

const dropped = garbageBudget(2 * 1024 * 1024);

parentPort!.on('message', (job: VerifyPackJob) => {
  const result = verifyPack(key, job, dropped);
  job.bytes = new Uint8Array(0);
  collectGarbage(); // the pack and its opened blobs, before the next pack arrives
  parentPort!.postMessage(result);
});
