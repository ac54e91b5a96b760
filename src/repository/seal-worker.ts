// Worker thread body: compresses and seals blobs, and turns whole small files into sealed blobs, so that
// every core works on the backup's hot path. It holds the master key only in memory (from workerData),
// reads only the source files it is handed, and never touches the repository's storage.

import { errorMessage } from '../core/errors.js';
import { parentPort, workerData } from 'node:worker_threads';
import type { ChunkerParams } from '../chunker/params.js';
import { blobAad } from './aad.js';
import type { BlobType } from './blob.js';
import { storedForm } from './blob-padding.js';
import { decodeFilesJob, encodeFilesReply, type FilesJob, type FilesReply } from './file-batch.js';
import { FileSealer } from './file-seal.js';
import { MasterKey } from './master-key.js';

export interface SealJob {
  kind: 'seal';
  job: number;
  type: BlobType;
  id: Uint8Array;
  plain: Uint8Array;
  level: number;
}

export interface SealReply {
  job: number;
  sealed?: Uint8Array;
  compression?: number;
  error?: string;
}

export interface SealWorkerData {
  key: Uint8Array;
  chunker: ChunkerParams;
  /** Format 2: pad every sealed blob (blob-padding.ts). */
  pad: boolean;
}

const setup = workerData as SealWorkerData;
const key = MasterKey.fromBytes(setup.key);
const sealer = new FileSealer(key, setup.chunker, setup.pad);

parentPort!.on('message', (m: SealJob | FilesJob) => {
  if (m.kind === 'files') {
    // A batch that fails is answered as failed: left unhandled, the rejection would end this worker and
    // with it every job of every other batch it holds.
    sealFiles(m).catch((err: unknown) =>
      parentPort!.postMessage({ job: m.job, error: errorMessage(err) } satisfies Pick<FilesReply, 'job' | 'error'>),
    );
    return;
  }
  try {
    const plain = Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength);
    const sealed = sealBlob(m.type, m.id, plain, m.level);
    parentPort!.postMessage(
      { job: m.job, sealed: sealed.sealed, compression: sealed.compression } satisfies SealReply,
      [sealed.sealed.buffer as ArrayBuffer],
    );
  } catch (err) {
    parentPort!.postMessage({ job: m.job, error: errorMessage(err) } satisfies SealReply);
  }
});

function sealBlob(
  type: BlobType,
  id: Uint8Array,
  plain: Buffer,
  level: number,
): { sealed: Buffer; compression: number } {
  const { data, compression } = storedForm(plain, level, setup.pad);
  return { sealed: ownBuffer(key.encryption.seal(data, blobAad(type, id))), compression };
}

/** Small files: each read once, then cut, hashed and sealed as soon as its bytes are in (file-seal.ts). */
async function sealFiles(m: FilesJob): Promise<void> {
  const { reply, transfer } = encodeFilesReply(m.job, await sealer.sealAll(decodeFilesJob(m), m.level));
  parentPort!.postMessage(reply, transfer);
}

// Small Buffers share Node's pool; transferring the pool's ArrayBuffer would detach unrelated data.
function ownBuffer(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}
