// Writes the files of one pack job: every needed blob of one pack is opened once and written with positional writes.
// Synchronous on purpose: it runs inside a worker thread (or inline when workers are off), where a blocking
// system call costs less than a promise round trip through the thread pool for each of thousands of small files.
// Never writes a byte that has not been authenticated and re-hashed, and never writes through an existing entry.

import fs, { constants as C } from 'node:fs';
import type { Compression } from '../repository/blob.js';
import { openSealedBlob } from '../repository/blob-open.js';
import type { MasterKey } from '../repository/master-key.js';
import { matchesPlanned } from './fsops.js';
import type { OverwriteMode } from './types.js';

export interface JobBlob {
  id: Uint8Array;
  /** Offset of the sealed bytes inside the job's `data`. */
  offset: number;
  storedLength: number;
  rawLength: number;
  compression: Compression;
}

export interface JobFileMeta {
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, as futimes wants them. */
  atime: number;
  mtime: number;
  /** For overwrite 'if-changed': an existing file with this size and mtime (ns, decimal) is left alone. */
  size: number;
  mtimeNs: string;
}

export interface JobFile {
  /** Index in the restore plan's files, used only to report back. */
  file: number;
  path: Uint8Array;
  /**
   * true: this job owns the whole file (all its pieces are in this pack): it creates the file, writes it,
   * applies `meta` and closes it. false: the file exists already and this job adds its pieces.
   */
  owner: boolean;
  meta?: JobFileMeta;
  /** Pairs of (index into `blobs`, offset in the file). */
  pieces: number[];
}

export interface PackJob {
  job: number;
  pack: string;
  /** The bytes of the pack from the first needed blob to the end of the last; absent for files without content. */
  data?: Uint8Array;
  blobs: JobBlob[];
  files: JobFile[];
}

export interface PackJobResult {
  job: number;
  /** Owned files created, written, given their metadata and closed. */
  done: number[];
  /** Non-owned files whose pieces from this pack are written. */
  added: number[];
  /** Owned files left alone because of the overwrite mode. */
  skipped: number[];
  /** Files with a blob that failed here (removed again if owned); the caller restores them another way. */
  broken: { file: number; message: string }[];
  /** Content bytes written for files in `done` and `added`. */
  bytes: number;
  warnings: { file: number; message: string }[];
  /** A file-system error that stops the restore (no space, no permission, …). */
  fatal?: { file: number; message: string; code?: string; syscall?: string };
}

export interface WriterSettings {
  overwrite: OverwriteMode;
  isRoot: boolean;
}

const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

/** `dropped` is told the bytes of every opened blob once it has been written (see core/worker-gc). */
export function runPackJob(key: MasterKey, settings: WriterSettings, job: PackJob, dropped?: (bytes: number) => void): PackJobResult {
  const result: PackJobResult = { job: job.job, done: [], added: [], skipped: [], broken: [], bytes: 0, warnings: [] };
  const blobs = new BlobSource(key, job, dropped);
  for (const f of job.files) {
    // Buffers arrive in a worker as plain Uint8Arrays; fs takes paths as Buffers (names need not be UTF-8).
    const path = Buffer.from(f.path.buffer, f.path.byteOffset, f.path.byteLength);
    let fd: number | undefined;
    let created = false;
    try {
      fd = f.owner ? createOwned(settings, path, f, result) : fs.openSync(path, C.O_WRONLY | C.O_NOFOLLOW);
      created = f.owner && fd !== undefined;
      if (fd === undefined) {
        result.skipped.push(f.file);
        continue;
      }
      const written = writePieces(fd, f, blobs);
      if (typeof written === 'string') {
        fs.closeSync(fd);
        fd = undefined;
        // A partial file would look restored; the caller rewrites it from other copies or reports the blob.
        if (f.owner) fs.unlinkSync(path);
        result.broken.push({ file: f.file, message: written });
        continue;
      }
      if (f.owner) applyMeta(settings, fd, f, result);
      (f.owner ? result.done : result.added).push(f.file);
      result.bytes += written;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      result.fatal = { file: f.file, message: e.message, code: e.code, syscall: e.syscall };
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
      if (created) fs.rmSync(path, { force: true }); // a partial file would look restored
      return result;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return result;
}

/** Writes every piece; returns the bytes written, or the message of the first blob that could not be opened. */
function writePieces(fd: number, f: JobFile, blobs: BlobSource): number | string {
  let bytes = 0;
  for (let k = 0; k < f.pieces.length; k += 2) {
    const plain = blobs.take(f.pieces[k]);
    if (typeof plain === 'string') return plain;
    let done = 0;
    while (done < plain.length) done += fs.writeSync(fd, plain, done, plain.length - done, f.pieces[k + 1] + done);
    bytes += plain.length;
  }
  return bytes;
}

/**
 * Creates an owned file with O_EXCL. An entry in the way is handled as the overwrite mode says: left
 * alone (undefined), or removed (an empty directory, or anything that is not a directory) and replaced.
 * Writing into an existing entry is never an option: it may be a symlink or a hard link to a file elsewhere.
 */
function createOwned(settings: WriterSettings, path: Buffer, f: JobFile, result: PackJobResult): number | undefined {
  try {
    return fs.openSync(path, CREATE_FLAGS, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(path, { bigint: true });
  if (settings.overwrite === 'never') return undefined;
  if (settings.overwrite === 'if-changed' && f.meta !== undefined && matchesPlanned(st, f.meta.size, BigInt(f.meta.mtimeNs))) return undefined;
  if (st.isDirectory()) {
    try {
      fs.rmdirSync(path); // only succeeds when empty: other people's files are never deleted
    } catch {
      result.warnings.push({ file: f.file, message: 'a non-empty directory is in the way, entry not restored' });
      return undefined;
    }
  } else {
    fs.unlinkSync(path);
  }
  return fs.openSync(path, CREATE_FLAGS, 0o600);
}

/** Through the open descriptor, so no symlink can be swapped in; chown first because it clears setuid/setgid. */
function applyMeta(settings: WriterSettings, fd: number, f: JobFile, result: PackJobResult): void {
  const m = f.meta!;
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      result.warnings.push({ file: f.file, message: `cannot set ${what}: ${(err as Error).message}` });
    }
  };
  if (settings.isRoot) attempt('owner', () => fs.fchownSync(fd, m.uid, m.gid));
  attempt('mode', () => fs.fchmodSync(fd, m.mode & 0o7777));
  attempt('times', () => fs.futimesSync(fd, m.atime, m.mtime));
}

/** Opens each blob of the job when first needed and keeps it only while other pieces still need it. */
class BlobSource {
  private readonly uses: Uint32Array;
  private readonly kept = new Map<number, Buffer | string>();

  constructor(
    private readonly key: MasterKey,
    private readonly job: PackJob,
    private readonly dropped?: (bytes: number) => void,
  ) {
    this.uses = new Uint32Array(job.blobs.length);
    for (const f of job.files) for (let k = 0; k < f.pieces.length; k += 2) this.uses[f.pieces[k]]++;
  }

  take(i: number): Buffer | string {
    let plain = this.kept.get(i);
    if (plain === undefined) plain = this.open(i);
    if (--this.uses[i] > 0) this.kept.set(i, plain);
    else {
      this.kept.delete(i);
      // Dropped by the caller once written: the plaintext, and the decrypted copy it was decompressed from.
      if (typeof plain !== 'string') this.dropped?.(plain.length + this.job.blobs[i].storedLength);
    }
    return plain;
  }

  private open(i: number): Buffer | string {
    const b = this.job.blobs[i];
    const data = this.job.data!;
    if (b.offset + b.storedLength > data.length) return `pack ${this.job.pack} is shorter than the index says`;
    const loc = { type: 'data' as const, id: Buffer.from(b.id.buffer, b.id.byteOffset, b.id.byteLength), compression: b.compression, offset: b.offset, storedLength: b.storedLength, rawLength: b.rawLength, pack: this.job.pack };
    try {
      return openSealedBlob(this.key, loc, data.subarray(b.offset, b.offset + b.storedLength));
    } catch (err) {
      return (err as Error).message;
    }
  }
}
