// Worker thread body for `check --read-data` (see verify-pool.ts): either takes packs of a local repository
// from the list it shares with the other threads, reading each itself, or verifies packs the main thread
// posts. It holds the master key only in memory (from workerData) and writes nothing.

import { parentPort, workerData } from 'node:worker_threads';
import { garbageBudget } from '../core/worker-gc.js';
import { MasterKey } from '../repository/master-key.js';
import { PackStreamer } from './pack-stream.js';
import { PackVerifier } from './pack-verifier.js';
import { verifyPack, type VerifyPackJob } from './verify-pack.js';
import { verifyNext, type VerifyWorkerData } from './verify-pool.js';

const data = workerData as VerifyWorkerData;
// Every blob leaves a decipher and its output behind; collecting the young generation every few MiB of
// them frees their native memory while it is still in cache, instead of letting thousands pile up.
const verifier = new PackVerifier(MasterKey.fromBytes(data.key), garbageBudget(2 * 1024 * 1024));
const port = parentPort!;

if (data.list !== undefined) {
  const streamer = new PackStreamer(data.list.dir, verifier);
  for (let r; (r = verifyNext(data.list, streamer)) !== undefined;) port.postMessage(r);
  port.postMessage(null); // the list is done; the main thread ends this thread
  port.on('message', () => undefined);
} else {
  const buffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  port.on('message', (job: VerifyPackJob) =>
    port.postMessage(verifyPack(verifier, job.job, job.pack, buffer(job.bytes), buffer(job.indexed))),
  );
}
