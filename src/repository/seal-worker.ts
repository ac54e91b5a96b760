// Worker thread body: compresses and seals blobs so that every core works on the backup's hot path.
// It holds the encryption key only in memory (from workerData) and never touches storage.

import { parentPort, workerData } from 'node:worker_threads';
import { XaesKey } from '../crypto/xaes.js';
import { blobAad } from './aad.js';
import type { BlobType } from './blob.js';
import { compressBlob } from './compression.js';

export interface SealJob {
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

const key = new XaesKey((workerData as { key: Uint8Array }).key);

parentPort!.on('message', (m: SealJob) => {
  try {
    const plain = Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength);
    const { data, compression } = compressBlob(plain, m.level);
    const sealed = ownBuffer(key.seal(data, blobAad(m.type, m.id)));
    parentPort!.postMessage({ job: m.job, sealed, compression } satisfies SealReply, [sealed.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ job: m.job, error: (err as Error).message } satisfies SealReply);
  }
});

// Small Buffers share Node's pool; transferring the pool's ArrayBuffer would detach unrelated data.
function ownBuffer(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}
