// Worker thread body for restore: runs pack jobs (open blobs, write files) so every core writes files.
// It holds the master key only in memory (from workerData) and reads nothing from storage itself.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { MasterKey } from '../repository/master-key.js';
import { runPackJob, type PackJob, type WriterSettings } from './pack-writer.js';

const setup = workerData as { key: Uint8Array; settings: WriterSettings };
const key = MasterKey.fromBytes(setup.key);

// A job leaves garbage of about its pack's size outside the heap (the pack, decrypted and decompressed
// blobs); V8 counts it late, so without a collection per job a worker holds many packs' worth of it.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

parentPort!.on('message', (job: PackJob) => {
  const result = runPackJob(key, setup.settings, job);
  job.data = undefined;
  collect();
  parentPort!.postMessage(result);
});
