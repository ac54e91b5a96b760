// Writes the files of one pack job: every needed blob of one pack is opened once and written with positional writes.
// Synchronous on purpose: it runs inside a worker thread (or inline when workers are off), where a blocking
// system call costs less than a promise round trip through the thread pool for each of thousands of small files.
// Never writes a byte that has not been authenticated and re-hashed, and never writes through an existing entry.

import { errorMessage } from '../core/errors.js';
import fs, { constants as C } from 'node:fs';
import { Compression } from '../repository/blob.js';
import { openSealedBlob } from '../repository/blob-open.js';
import type { MasterKey } from '../repository/master-key.js';
import { matchesPlanned } from './fsops.js';
import type { OverwriteMode } from './types.js';

/** Per blob of a job, BLOB_FIELDS u32 in `blobs`: offset of its sealed bytes in `data`, stored length, raw length, zstd (1) or not (0). */
export const BLOB_FIELDS = 4;
/** Per file of a job, FILE_FIELDS u32 in `files`: plan index, flags, path start and length in `paths`, first piece, pieces, mtime ns. */
export const FILE_FIELDS = 7;
/**
 * Flags: the job owns the whole file (all its pieces are in this window): it creates the file, writes it,
 * applies its metadata and closes it. Without it the file exists already and the job adds its pieces.
 */
export const OWNER = 1;
/** A file created now already has its owner and group: no chown (when running as root). */
export const OWNER_AS_CREATED = 2;
/** Per file, META_FIELDS doubles in `meta` (owned files): atime and mtime as utimes wants them, size, mtime whole seconds, mode, uid, gid. */
export const META_FIELDS = 7;

/**
 * One job: the files to write from one window of one pack, as typed arrays that move to a worker without a
 * copy (an array of objects per file was structured-cloned on the main thread: seconds on the kernel tree).
 */
export interface PackJob {
  job: number;
  pack: string;
  /** The window's bytes, from its first needed blob to the end of its last; absent for files without content. */
  data?: Uint8Array;
  blobs: Uint32Array;
  /** 32 bytes per blob: the id its plaintext must hash to. */
  blobIds: Uint8Array;
  files: Uint32Array;
  meta: Float64Array;
  paths: Uint8Array;
  /** Per piece: index into the job's blobs, and in `pieceOffsets` where in the file it goes. */
  pieceBlobs: Uint32Array;
  pieceOffsets: Float64Array;
}

export interface PackJobResult {
  job: number;
  /** Owned files created, written, given their metadata and closed. */
  done: number[];
  /** Non-owned files whose pieces from this pack are written. */
  added: number[];
  /** Content bytes written for each file in `added`, in the same order (taken back if the file is rewritten). */
  addedBytes: number[];
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
  /** The process's umask, which open(2) applies to the mode of a file it creates. */
  umask: number;
  /** Leave holes where a blob is all zeros (files are new, so a hole reads as zeros), and set the size with ftruncate. */
  sparse: boolean;
}

/**
 * Whether every byte of `b` is 0: its first byte is, and one memcmp of the blob against itself shifted by a
 * byte finds no difference (so every byte equals the first). No zero buffer to hold per thread, and it
 * stops at the first byte that differs from the one before it: at once on most data.
 */
export function isAllZero(b: Uint8Array): boolean {
  if (b.length === 0) return true;
  if (b[0] !== 0 || b[b.length - 1] !== 0) return false;
  return Buffer.compare(b.subarray(1), b.subarray(0, b.length - 1)) === 0;
}

const CREATE_FLAGS = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

/**
 * The mode to create a file with: its final mode when open(2) gives exactly that through the umask and it
 * has no setuid, setgid or sticky bit (those must follow chown, which clears them), so no fchmod is needed
 * (one system call less per file); otherwise 0600, and fchmod after writing.
 */
function createMode(settings: WriterSettings, mode: number): { create: number; final: boolean } {
  const m = mode & 0o7777;
  return (m & ~0o777) === 0 && (m & ~settings.umask) === m
    ? { create: m, final: true }
    : { create: 0o600, final: false };
}

/** `dropped` is told the bytes of every opened blob once it has been written (see core/worker-gc). */
export function runPackJob(
  key: MasterKey,
  settings: WriterSettings,
  job: PackJob,
  dropped?: (bytes: number) => void,
): PackJobResult {
  const result: PackJobResult = {
    job: job.job,
    done: [],
    added: [],
    addedBytes: [],
    skipped: [],
    broken: [],
    bytes: 0,
    warnings: [],
  };
  const blobs = new BlobSource(key, job, dropped);
  const { files, paths } = job;
  for (let r = 0; r < files.length; r += FILE_FIELDS) {
    const file = files[r];
    const owner = (files[r + 1] & OWNER) !== 0;
    // A view, not a copy: fs takes paths as Buffers (names need not be UTF-8).
    const path = Buffer.from(paths.buffer, paths.byteOffset + files[r + 2], files[r + 3]);
    const m = (r / FILE_FIELDS) * META_FIELDS;
    let fd: number | undefined;
    let created = false;
    try {
      fd = owner ? createOwned(settings, path, job, r, m, result) : fs.openSync(path, C.O_WRONLY | C.O_NOFOLLOW);
      created = owner && fd !== undefined;
      if (fd === undefined) {
        result.skipped.push(file);
        continue;
      }
      const written = writePieces(fd, job, files[r + 4], files[r + 5], blobs, settings.sparse);
      if (typeof written === 'string') {
        fs.closeSync(fd);
        fd = undefined;
        // A partial file would look restored; the caller rewrites it from other copies or reports the blob.
        if (owner) fs.unlinkSync(path);
        result.broken.push({ file, message: written });
        continue;
      }
      // A file ending in a hole is shorter than its size until truncated up to it (a spanning file was, when created).
      if (owner && written.holes) fs.ftruncateSync(fd, job.meta[m + 2]);
      if (owner) applyMeta(settings, fd, file, (files[r + 1] & OWNER_AS_CREATED) === 0, job.meta, m, result);
      if (owner) result.done.push(file);
      else (result.added.push(file), result.addedBytes.push(written.bytes));
      result.bytes += written.bytes;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      result.fatal = { file, message: e.message, code: e.code, syscall: e.syscall };
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

/**
 * Writes pieces first … first+count-1 (all-zero blobs left as holes when `sparse`); returns the bytes
 * restored and whether a hole was left, or the message of the first blob that could not be opened.
 */
function writePieces(
  fd: number,
  job: PackJob,
  first: number,
  count: number,
  blobs: BlobSource,
  sparse: boolean,
): { bytes: number; holes: boolean } | string {
  let bytes = 0;
  let holes = false;
  for (let k = first; k < first + count; k++) {
    const b = job.pieceBlobs[k];
    const plain = blobs.take(b);
    if (typeof plain === 'string') return plain;
    if (sparse && blobs.isZero(b, plain)) {
      bytes += plain.length;
      holes = true;
      continue;
    }
    const at = job.pieceOffsets[k];
    let done = 0;
    while (done < plain.length) done += fs.writeSync(fd, plain, done, plain.length - done, at + done);
    bytes += plain.length;
  }
  return { bytes, holes };
}

/**
 * Creates an owned file with O_EXCL. An entry in the way is handled as the overwrite mode says: left
 * alone (undefined), or removed (an empty directory, or anything that is not a directory) and replaced.
 * Writing into an existing entry is never an option: it may be a symlink or a hard link to a file elsewhere.
 */
function createOwned(
  settings: WriterSettings,
  path: Buffer,
  job: PackJob,
  r: number,
  m: number,
  result: PackJobResult,
): number | undefined {
  const mode = createMode(settings, job.meta[m + 4]).create;
  try {
    return fs.openSync(path, CREATE_FLAGS, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(path, { bigint: true });
  if (settings.overwrite === 'never') return undefined;
  if (settings.overwrite === 'if-changed') {
    const mtimeNs = BigInt(job.meta[m + 3]) * 1_000_000_000n + BigInt(job.files[r + 6]);
    if (matchesPlanned(st, job.meta[m + 2], mtimeNs)) return undefined;
  }
  if (st.isDirectory()) {
    try {
      fs.rmdirSync(path); // only succeeds when empty: other people's files are never deleted
    } catch {
      result.warnings.push({ file: job.files[r], message: 'a non-empty directory is in the way, entry not restored' });
      return undefined;
    }
  } else {
    fs.unlinkSync(path);
  }
  return fs.openSync(path, CREATE_FLAGS, mode);
}

/** Through the open descriptor, so no symlink can be swapped in; chown first because it clears setuid/setgid. */
function applyMeta(
  settings: WriterSettings,
  fd: number,
  file: number,
  chown: boolean,
  meta: Float64Array,
  m: number,
  result: PackJobResult,
): void {
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      result.warnings.push({ file, message: `cannot set ${what}: ${errorMessage(err)}` });
    }
  };
  if (settings.isRoot && chown) attempt('owner', () => fs.fchownSync(fd, meta[m + 5], meta[m + 6]));
  if (!createMode(settings, meta[m + 4]).final) attempt('mode', () => fs.fchmodSync(fd, meta[m + 4] & 0o7777));
  attempt('times', () => fs.futimesSync(fd, meta[m], meta[m + 1]));
}

/** Opens each blob of the job when first needed and keeps it only while other pieces still need it. */
class BlobSource {
  private readonly uses: Uint32Array;
  private readonly kept = new Map<number, Buffer | string>();
  /** Per blob: 0 not looked at yet, 1 all zeros, 2 not (a zero blob shared by many pieces is compared once). */
  private readonly zero: Uint8Array;

  constructor(
    private readonly key: MasterKey,
    private readonly job: PackJob,
    private readonly dropped?: (bytes: number) => void,
  ) {
    this.uses = new Uint32Array(job.blobs.length / BLOB_FIELDS);
    this.zero = new Uint8Array(this.uses.length);
    for (const b of job.pieceBlobs) this.uses[b]++;
  }

  /** Whether blob i, whose plaintext is `plain`, is all zeros. */
  isZero(i: number, plain: Buffer): boolean {
    if (this.zero[i] === 0) this.zero[i] = isAllZero(plain) ? 1 : 2;
    return this.zero[i] === 1;
  }

  take(i: number): Buffer | string {
    let plain = this.kept.get(i);
    if (plain === undefined) plain = this.open(i);
    if (--this.uses[i] > 0) this.kept.set(i, plain);
    else {
      this.kept.delete(i);
      // Dropped by the caller once written: the plaintext, and the decrypted copy it was decompressed from.
      if (typeof plain !== 'string') this.dropped?.(plain.length + this.job.blobs[i * BLOB_FIELDS + 1]);
    }
    return plain;
  }

  private open(i: number): Buffer | string {
    const b = this.job.blobs;
    const o = i * BLOB_FIELDS;
    const offset = b[o];
    const storedLength = b[o + 1];
    const data = this.job.data!;
    if (offset + storedLength > data.length) return `pack ${this.job.pack} is shorter than the index says`;
    const ids = this.job.blobIds;
    const id = Buffer.from(ids.buffer, ids.byteOffset + i * 32, 32);
    const compression = b[o + 3] === 1 ? Compression.Zstd : Compression.None;
    const loc = {
      type: 'data' as const,
      id,
      compression,
      offset,
      storedLength,
      rawLength: b[o + 2],
      pack: this.job.pack,
    };
    try {
      return openSealedBlob(this.key, loc, data.subarray(offset, offset + storedLength));
    } catch (err) {
      return errorMessage(err);
    }
  }
}
