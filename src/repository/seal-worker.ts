// Worker thread body: compresses and seals blobs, and turns whole small files into sealed blobs, so that
// every core works on the backup's hot path. It holds the master key only in memory (from workerData),
// reads only the source files it is handed, and never touches the repository's storage.

import { parentPort, workerData } from 'node:worker_threads';
import { fastcdcBoundaries } from '../chunker/fastcdc.js';
import type { ChunkerParams } from '../chunker/params.js';
import { blobAad } from './aad.js';
import type { BlobType } from './blob.js';
import { compressBlob } from './compression.js';
import { decodeFilesJob, encodeFilesReply, type FileReply, type FilesJob, type SealedChunk } from './file-batch.js';
import { WholeFileReader } from './file-read.js';
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
}

const setup = workerData as SealWorkerData;
const key = MasterKey.fromBytes(setup.key);

parentPort!.on('message', (m: SealJob | FilesJob) => {
  if (m.kind === 'files') {
    void sealFiles(m);
    return;
  }
  try {
    const plain = Buffer.from(m.plain.buffer, m.plain.byteOffset, m.plain.byteLength);
    const sealed = sealBlob(m.type, m.id, plain, m.level);
    parentPort!.postMessage({ job: m.job, sealed: sealed.sealed, compression: sealed.compression } satisfies SealReply, [sealed.sealed.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ job: m.job, error: (err as Error).message } satisfies SealReply);
  }
});

function sealBlob(type: BlobType, id: Uint8Array, plain: Buffer, level: number): { sealed: Buffer; compression: number } {
  const { data, compression } = compressBlob(plain, level);
  return { sealed: ownBuffer(key.encryption.seal(data, blobAad(type, id))), compression };
}

/** Small files: each read once (file-read.ts), then cut, hashed and sealed as soon as its bytes are in. */
async function sealFiles(m: FilesJob): Promise<void> {
  const files = new Array<FileReply>(m.ends.length);
  await reader.readAll(decodeFilesJob(m), (i, r) => {
    files[i] = r.status === 'read' ? sealBytes(r.buf.subarray(0, r.filled), r.sizeAfter, r.mtimeNs, m.level) : r;
  });
  const { reply, transfer } = encodeFilesReply(m.job, files);
  parentPort!.postMessage(reply, transfer);
}

const reader = new WholeFileReader();

/** Cuts a whole file exactly as the streaming chunker would, and hashes and seals each chunk. */
function sealBytes(data: Buffer, sizeAfter: number, mtimeNs: string, level: number): FileReply {
  const cuts = fastcdcBoundaries(data, setup.chunker);
  const chunks: SealedChunk[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const chunk = data.subarray(cuts[i], cuts[i + 1]);
    const id = key.blobId(chunk);
    // Sealed here without the copy into an owned buffer: the reply copies every chunk into one buffer.
    const { data: packed, compression } = compressBlob(chunk, level);
    const sealed = key.encryption.seal(packed, blobAad('data', id));
    chunks.push({ id, rawLength: chunk.length, sealed, compression });
  }
  return { status: 'ok', size: data.length, sizeAfter, mtimeNs, chunks };
}

// Small Buffers share Node's pool; transferring the pool's ArrayBuffer would detach unrelated data.
function ownBuffer(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}
