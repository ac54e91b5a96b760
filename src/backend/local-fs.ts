// Filesystem helpers shared by the local backend and its piece-by-piece uploads: error mapping, directory
// creation with the repository's modes, directory fsync (core/atomic-file.ts), and vectored writes of a file's parts. Must never follow a path outside the repository
// it is given.

import type { FileHandle } from 'node:fs/promises';
import * as fs from 'node:fs/promises';
import { ATOMIC_TEMP_PREFIX, syncDir } from '../core/atomic-file.js';
import { BackendError, errnoCode, NotFoundError, RepoError } from '../core/errors.js';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;
/** Largest single write; between writes an abort signal is checked. */
const WRITE_CHUNK = 8 * 1024 * 1024;
/** Buffers in one writev (Linux's IOV_MAX). */
const IOV_MAX = 1024;

/** Prefix of temporary files written before the atomic rename. */
export const TEMP_PREFIX = ATOMIC_TEMP_PREFIX;

export { errnoCode, syncDir };

/**
 * Maps a Node fs error for the repository file `file` (relative layout path) to a RepoError:
 * ENOENT → NotFoundError; ENOSPC/EDQUOT → BackendError "disk full"; EACCES/EPERM → BackendError
 * "permission denied"; an AbortError → RepoError('INTERRUPTED'); anything else → BackendError with
 * the original error as cause. RepoErrors pass through unchanged.
 */
export function mapFsError(err: unknown, file: string, action = 'access'): RepoError {
  if (err instanceof RepoError) return err;
  const code = errnoCode(err);
  const ctx = code === undefined ? { file } : { file, errno: code };
  const opts = { cause: err };
  if (code === 'ABORT_ERR' || (err instanceof Error && err.name === 'AbortError')) {
    return new RepoError('INTERRUPTED', 'operation aborted', { file }, opts);
  }
  switch (code) {
    case 'ENOENT':
      return action === 'save'
        ? new NotFoundError(`cannot save ${file}: its directory does not exist`, ctx, opts)
        : new NotFoundError(`${file} not found`, ctx, opts);
    case 'ENOSPC':
    case 'EDQUOT':
      return new BackendError(`disk full: cannot ${action} ${file}`, ctx, opts);
    case 'EACCES':
    case 'EPERM':
      return new BackendError(`permission denied: cannot ${action} ${file}`, ctx, opts);
    default: {
      const detail = err instanceof Error ? err.message : String(err);
      return new BackendError(`cannot ${action} ${file}: ${detail}`, ctx, opts);
    }
  }
}

/** Creates dir (if missing) and sets its mode to 0700 regardless of umask. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { mode: DIR_MODE });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw err;
  }
  await fs.chmod(dir, DIR_MODE);
}

/**
 * Writes the parts one after another from offset 0, gathering up to IOV_MAX of them (about WRITE_CHUNK
 * bytes) into each writev: a pack of small blobs has thousands of parts, and one write each cost a
 * thread-pool round trip per blob. A short write (rare for regular files) goes on where it stopped.
 */
export async function writeParts(fh: FileHandle, parts: readonly Uint8Array[], beforeEach: () => void): Promise<void> {
  let pos = 0;
  let group: Uint8Array[] = [];
  let groupBytes = 0;
  const flush = async (): Promise<void> => {
    while (group.length > 0) {
      beforeEach();
      let { bytesWritten } = await fh.writev(group, pos);
      pos += bytesWritten;
      while (group.length > 0 && bytesWritten >= group[0].byteLength) bytesWritten -= group.shift()!.byteLength;
      if (group.length > 0) group[0] = group[0].subarray(bytesWritten);
    }
    groupBytes = 0;
  };
  for (const part of parts) {
    for (let off = 0; off < part.byteLength; off += WRITE_CHUNK) {
      const piece = part.subarray(off, off + WRITE_CHUNK);
      group.push(piece);
      groupBytes += piece.byteLength;
      if (group.length === IOV_MAX || groupBytes >= WRITE_CHUNK) await flush();
    }
  }
  await flush();
}
