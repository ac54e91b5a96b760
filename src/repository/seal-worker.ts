// Worker thread body: compresses and seals blobs, and turns whole small files into sealed blobs, so that
// every core works on the backup's hot path. It holds the master key only in memory (from workerData),
// reads only the source files it is handed, and never touches the repository's storage.

import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { fastcdcBoundaries } from '../chunker/fastcdc.js';
import type { ChunkerParams } from '../chunker/params.js';
import { blobAad } from './aad.js';
import type { BlobType } from './blob.js';
import { compressBlob } from './compression.js';
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

export interface FilesJob {
  kind: 'files';
  job: number;
  level: number;
  files: { path: Uint8Array; limit: number }[];
}

export interface SealedChunk {
  id: Uint8Array;
  rawLength: number;
  sealed: Uint8Array;
  compression: number;
}

/** What became of one file: its sealed chunks, or why it could not be read here. */
export type FileReply =
  | { status: 'ok'; size: number; sizeAfter: number; mtimeNs: string; chunks: SealedChunk[] }
  /** The file has grown beyond the limit since it was listed; the caller streams it instead. */
  | { status: 'too-large' }
  | { status: 'error'; stage: 'open' | 'read'; message: string; code?: string };

export interface FilesReply {
  job: number;
  files: FileReply[];
}

export interface SealWorkerData {
  key: Uint8Array;
  chunker: ChunkerParams;
}

const setup = workerData as SealWorkerData;
const key = MasterKey.fromBytes(setup.key);

parentPort!.on('message', (m: SealJob | FilesJob) => {
  if (m.kind === 'files') {
    const transfer: ArrayBuffer[] = [];
    const files = m.files.map((f) => sealFile(Buffer.from(f.path.buffer, f.path.byteOffset, f.path.byteLength), f.limit, m.level, transfer));
    parentPort!.postMessage({ job: m.job, files } satisfies FilesReply, transfer);
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

/** Reads the whole file, cuts it exactly as the streaming chunker would, and hashes and seals each chunk. */
function sealFile(path: Buffer, limit: number, level: number, transfer: ArrayBuffer[]): FileReply {
  let fd: number;
  try {
    fd = openForBackup(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { status: 'error', stage: 'open', message: e.message, code: e.code };
  }
  try {
    let buf = readBuffer(limit);
    let filled = 0;
    for (;;) {
      if (filled === buf.length) {
        if (buf.length > limit) return { status: 'too-large' };
        buf = growReadBuffer(buf, limit);
      }
      const n = fs.readSync(fd, buf, filled, buf.length - filled, null);
      if (n === 0) break;
      filled += n;
    }
    const after = fs.fstatSync(fd, { bigint: true });
    const data = buf.subarray(0, filled);
    const cuts = fastcdcBoundaries(data, setup.chunker);
    const chunks: SealedChunk[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const chunk = data.subarray(cuts[i], cuts[i + 1]);
      const id = key.blobId(chunk);
      const { sealed, compression } = sealBlob('data', id, chunk, level);
      transfer.push(sealed.buffer as ArrayBuffer);
      chunks.push({ id, rawLength: chunk.length, sealed, compression });
    }
    return { status: 'ok', size: filled, sizeAfter: Number(after.size), mtimeNs: after.mtimeNs.toString(), chunks };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { status: 'error', stage: 'read', message: e.message, code: e.code };
  } finally {
    fs.closeSync(fd);
  }
}

// One read buffer per worker, reused for every file: the file's bytes never leave this thread (only the
// sealed chunks do), and a fresh buffer per file made each worker's allocator hold far more than it used.
let shared = Buffer.allocUnsafeSlow(64 * 1024);

function readBuffer(limit: number): Buffer {
  return shared.length > limit + 1 ? shared.subarray(0, limit + 1) : shared;
}

function growReadBuffer(buf: Buffer, limit: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.min(limit + 1, buf.length * 2));
  buf.copy(bigger);
  shared = bigger;
  return bigger;
}

// O_NOATIME keeps a backup from changing the atime it records; the kernel allows it only to the
// file's owner or root, so fall back to a plain open (same rule as the archiver's own reads).
function openForBackup(path: Buffer): number {
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
  const noatime = fs.constants.O_NOATIME ?? 0;
  if (noatime) {
    try {
      return fs.openSync(path, flags | noatime);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return fs.openSync(path, flags);
}

// Small Buffers share Node's pool; transferring the pool's ArrayBuffer would detach unrelated data.
function ownBuffer(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return b;
  const out = Buffer.allocUnsafeSlow(b.length);
  b.copy(out);
  return out;
}
