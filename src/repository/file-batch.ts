// How a batch of small files travels between the main thread and a seal worker: a few owned buffers per
// message instead of one object, buffer and transfer per path and per chunk. (Cloning a Buffer copies
// its whole backing store, and a short Buffer is a view into Node's shared 8 KiB pool: every path sent
// as its own Buffer copied 8 KiB.) Pure encoding: no I/O, no crypto.

import type { ReadOutcome } from './file-read.js';

const ID_LENGTH = 32;
/** Numbers stored per chunk in `chunkInfo`: sealed length, raw length, compression. */
const INFO = 3;

export interface FilesJob {
  kind: 'files';
  job: number;
  level: number;
  /** Every path's bytes back to back; `ends[i]` is where path i ends. */
  paths: Uint8Array;
  ends: Uint32Array;
  limits: number[];
}

/** One file's outcome on the wire: its chunks are the next `chunks` entries of the batch's chunk arrays. */
export type FileOutcome =
  | { status: 'ok'; size: number; sizeAfter: number; mtimeNs: string; chunks: number }
  | Exclude<ReadOutcome, { status: 'read' }>;

export interface FilesReply {
  job: number;
  /** Set when the worker could not handle the batch at all (then nothing else is); per-file failures are in `files`. */
  error?: string;
  files: FileOutcome[];
  /** 32-byte ids of every chunk of every file, in file order then chunk order. */
  ids: Uint8Array;
  /** Sealed chunks back to back, in the same order. */
  sealed: Uint8Array;
  chunkInfo: Float64Array;
}

export interface SealedChunk {
  id: Buffer;
  rawLength: number;
  sealed: Buffer;
  compression: number;
}

/** What became of one file: its sealed chunks, or why it could not be read. */
export type FileReply =
  | { status: 'ok'; size: number; sizeAfter: number; mtimeNs: string; chunks: SealedChunk[] }
  | Exclude<ReadOutcome, { status: 'read' }>;

/** A job for these files, all but its number (the paths' buffer is owned by it, so it can be transferred). */
export function encodeFilesJob(
  level: number,
  files: readonly { path: Buffer; limit: number }[],
): Omit<FilesJob, 'job'> {
  const ends = new Uint32Array(files.length);
  let total = 0;
  files.forEach((f, i) => (ends[i] = total += f.path.length));
  const paths = new Uint8Array(total);
  files.forEach((f, i) => paths.set(f.path, i === 0 ? 0 : ends[i - 1]));
  return { kind: 'files', level, paths, ends, limits: files.map((f) => f.limit) };
}

export function decodeFilesJob(m: FilesJob): { path: Buffer; limit: number }[] {
  const out: { path: Buffer; limit: number }[] = [];
  for (let i = 0; i < m.ends.length; i++) {
    const start = i === 0 ? 0 : m.ends[i - 1];
    out.push({ path: Buffer.from(m.paths.buffer, m.paths.byteOffset + start, m.ends[i] - start), limit: m.limits[i] });
  }
  return out;
}

/** The reply for files in job order, and the buffers to transfer with it (all owned by the reply). */
export function encodeFilesReply(job: number, files: FileReply[]): { reply: FilesReply; transfer: ArrayBuffer[] } {
  let chunks = 0;
  let bytes = 0;
  for (const f of files) if (f.status === 'ok') for (const c of f.chunks) (chunks++, (bytes += c.sealed.length));
  const ids = new Uint8Array(chunks * ID_LENGTH);
  const sealed = new Uint8Array(bytes);
  const chunkInfo = new Float64Array(chunks * INFO);
  let k = 0;
  let at = 0;
  const outcomes = files.map((f): FileOutcome => {
    if (f.status !== 'ok') return f;
    for (const c of f.chunks) {
      ids.set(c.id, k * ID_LENGTH);
      sealed.set(c.sealed, at);
      chunkInfo[k * INFO] = c.sealed.length;
      chunkInfo[k * INFO + 1] = c.rawLength;
      chunkInfo[k * INFO + 2] = c.compression;
      at += c.sealed.length;
      k++;
    }
    return { status: 'ok', size: f.size, sizeAfter: f.sizeAfter, mtimeNs: f.mtimeNs, chunks: f.chunks.length };
  });
  return {
    reply: { job, files: outcomes, ids, sealed, chunkInfo },
    transfer: [ids.buffer as ArrayBuffer, sealed.buffer as ArrayBuffer, chunkInfo.buffer as ArrayBuffer],
  };
}

/** Per file, its chunks as views into the reply's buffers (no copies). */
export function decodeFilesReply(r: FilesReply): FileReply[] {
  let k = 0;
  let at = 0;
  return r.files.map((f): FileReply => {
    if (f.status !== 'ok') return f;
    const chunks: SealedChunk[] = [];
    for (let n = 0; n < f.chunks; n++, k++) {
      const length = r.chunkInfo[k * INFO];
      chunks.push({
        id: Buffer.from(r.ids.buffer, r.ids.byteOffset + k * ID_LENGTH, ID_LENGTH),
        sealed: Buffer.from(r.sealed.buffer, r.sealed.byteOffset + at, length),
        rawLength: r.chunkInfo[k * INFO + 1],
        compression: r.chunkInfo[k * INFO + 2],
      });
      at += length;
    }
    return { status: 'ok', size: f.size, sizeAfter: f.sizeAfter, mtimeNs: f.mtimeNs, chunks };
  });
}
