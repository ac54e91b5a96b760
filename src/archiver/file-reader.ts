// Reads one file through the chunker into data blobs, warning (not failing) when it cannot be read or changes meanwhile.
// Never follows a symlink that replaced the file after it was listed.

import fs from 'node:fs';
import { RepoError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { checkAbort, describeFsError, warn, type WalkState } from './state.js';
import type { SourceStat } from './metadata.js';

export interface FileContent {
  content: string[];
  size: number;
}

export async function readFile(state: WalkState, abs: Buffer, before: SourceStat): Promise<FileContent | undefined> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await openForBackup(abs);
  } catch (err) {
    warn(state, abs, `cannot open: ${describeFsError(err)}`, true);
    return undefined;
  }
  try {
    const read = async (buf: Uint8Array, offset: number, length: number) => {
      const { bytesRead } = await fh.read(buf, offset, length, null);
      state.progress.bytesRead(bytesRead);
      return bytesRead;
    };
    const r = await storeChunks(state, state.chunker.chunksFrom(read));
    const after = await fh.stat({ bigint: true });
    if (after.size !== before.size || after.mtimeNs !== before.mtimeNs || BigInt(r.size) !== after.size) {
      warn(state, abs, 'file changed while it was read; the snapshot holds what was read', false);
    }
    return r;
  } catch (err) {
    if (err instanceof RepoError) throw err;
    warn(state, abs, `cannot read: ${describeFsError(err)}`, true);
    return undefined;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Files up to this size are read, chunked, hashed and sealed whole on a worker thread. */
export const SMALL_FILE = 512 * 1024;

/**
 * Reads a small file on a worker thread (see Repository.saveSmallFile). Same warnings as readFile; a
 * file that grew past SMALL_FILE since it was listed is streamed by readFile instead.
 */
export async function readSmallFile(
  state: WalkState,
  abs: Buffer,
  before: SourceStat,
): Promise<FileContent | undefined> {
  checkAbort(state.opts.signal);
  const r = await state.repo.saveSmallFile(abs, SMALL_FILE);
  if (r.status === 'too-large') return readFile(state, abs, before);
  if (r.status === 'error') {
    warn(state, abs, `cannot ${r.stage}: ${describeFsError(r)}`, true);
    return undefined;
  }
  state.progress.bytesRead(r.size);
  state.summary.data_blobs += r.newBlobs;
  if (BigInt(r.size) !== before.size || r.sizeAfter !== r.size || r.mtimeNs !== before.mtimeNs) {
    warn(state, abs, 'file changed while it was read; the snapshot holds what was read', false);
  }
  return { content: r.ids.map(idToHex), size: r.size };
}

/** Blobs of one file in flight at once: enough to keep every seal worker busy on a single large file. */
const BLOBS_IN_FLIGHT = 4;

export async function storeChunks(state: WalkState, chunks: AsyncIterable<Buffer>): Promise<FileContent> {
  const content: string[] = [];
  const inFlight: Promise<void>[] = [];
  let size = 0;
  try {
    for await (const chunk of chunks) {
      checkAbort(state.opts.signal);
      // The id is computed here, in order, so the content list is known before the blob is stored.
      const id = state.repo.blobId(chunk);
      content.push(idToHex(id));
      size += chunk.length;
      const saved = state.repo.saveBlob('data', chunk, id, { donate: true }).then((r) => {
        if (!r.known) state.summary.data_blobs++;
      });
      saved.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
      inFlight.push(saved);
      if (inFlight.length >= BLOBS_IN_FLIGHT) await inFlight.shift();
    }
  } finally {
    await Promise.allSettled(inFlight);
  }
  await Promise.all(inFlight);
  return { content, size };
}

// O_NOATIME keeps a backup from changing the atime it records (else every run would see new trees);
// the kernel allows it only to the file's owner or root, so fall back to a plain open.
async function openForBackup(abs: Buffer): Promise<fs.promises.FileHandle> {
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
  const noatime = fs.constants.O_NOATIME ?? 0;
  if (noatime) {
    try {
      return await fs.promises.open(abs, flags | noatime);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return fs.promises.open(abs, flags);
}
