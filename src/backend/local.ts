// Backend storing a repository in a local directory (config, keys/, data/xx/, index/, snapshots/, locks/, audit/).
// Must never leave a partially written file under a final name, and never touch paths outside its directory.

import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { BackendError, RepoError } from '../core/errors.js';
import { DIR_MODE, ensureDir, errnoCode, FILE_MODE, mapFsError, syncDir, TEMP_PREFIX, writeParts } from './local-fs.js';
import { LocalUpload } from './local-upload.js';

export { mapFsError, TEMP_PREFIX } from './local-fs.js';
import { isIdHex } from '../core/id.js';
import {
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  FILE_TYPES,
  handleToPath,
  resolveRange,
  throwIfAborted,
  validateFileType,
  validateRangeArgs,
  type SaveData,
  saveDataParts,
} from './backend.js';

/** Default age after which cleanupTemporaryFiles() considers a temporary file abandoned. */
export const TEMP_MAX_AGE_MS = 60 * 60 * 1000;

/** How many stat() calls list() runs at once. */
const STAT_BATCH = 64;
const SUBDIR_RE = /^[0-9a-f]{2}$/;

/** The 256 data sub-directory names "00" … "ff". */
function dataSubdirs(): string[] {
  return Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
}

/**
 * A repository in a local directory. Writes go to `.tmp-<random hex>` in the target directory,
 * are fsynced, renamed over the final name, and the directory is fsynced. Files are 0600,
 * directories 0700. Constructing does not touch the disk; use LocalBackend.open / createAt.
 */
export class LocalBackend implements Backend {
  /** Absolute path of the repository directory. */
  readonly dir: string;
  readonly location: string;

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir === '') {
      throw new RepoError('INVALID_ARGUMENT', 'repository directory must be a non-empty path');
    }
    this.dir = path.resolve(dir);
    this.location = this.dir;
  }

  /**
   * Opens an existing repository without creating anything. A missing directory →
   * RepoError('REPO_NOT_FOUND'); a directory (or other file) without a `config` file →
   * RepoError('NOT_A_REPOSITORY').
   */
  static async open(dir: string): Promise<LocalBackend> {
    const b = new LocalBackend(dir);
    let st;
    try {
      st = await fs.stat(b.dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new RepoError('REPO_NOT_FOUND', `no repository at ${b.dir}: the directory does not exist`, {
          path: b.dir,
        });
      }
      throw mapFsError(err, b.dir, 'open');
    }
    if (!st.isDirectory()) {
      throw new RepoError('NOT_A_REPOSITORY', `${b.dir} is not a repository: it is not a directory`, {
        path: b.dir,
      });
    }
    let configIsFile = false;
    try {
      configIsFile = (await fs.stat(b.abs('config'))).isFile();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw mapFsError(err, 'config', 'open');
    }
    if (!configIsFile) {
      throw new RepoError('NOT_A_REPOSITORY', `${b.dir} is not a repository: it has no config file`, {
        path: b.dir,
      });
    }
    return b;
  }

  /**
   * Creates the layout in `dir` (which may be missing or an empty directory) and returns the backend.
   * A directory holding a config → RepoError('REPO_EXISTS'); any other non-empty directory, or a
   * non-directory at that path → RepoError('INVALID_ARGUMENT').
   */
  static async createAt(dir: string): Promise<LocalBackend> {
    const b = new LocalBackend(dir);
    let entries: string[] = [];
    try {
      entries = await fs.readdir(b.dir);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOTDIR') {
        throw new RepoError('INVALID_ARGUMENT', `cannot create a repository at ${b.dir}: it is not a directory`, {
          path: b.dir,
        });
      }
      if (code !== 'ENOENT') throw mapFsError(err, b.dir, 'create');
    }
    if (entries.includes('config')) {
      throw new RepoError('REPO_EXISTS', `a repository already exists at ${b.dir}`, { path: b.dir });
    }
    if (entries.length > 0) {
      throw new RepoError('INVALID_ARGUMENT', `cannot create a repository at ${b.dir}: the directory is not empty`, {
        path: b.dir,
      });
    }
    await b.create();
    return b;
  }

  /** Absolute path of a '/'-separated relative layout path. */
  private abs(rel: string): string {
    return rel === '' ? this.dir : path.join(this.dir, ...rel.split('/'));
  }

  async create(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: DIR_MODE });
      await fs.chmod(this.dir, DIR_MODE);
    } catch (err) {
      throw mapFsError(err, this.dir, 'create');
    }
    let hasConfig = false;
    try {
      await fs.lstat(this.abs('config'));
      hasConfig = true;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, 'config', 'create');
    }
    if (hasConfig) {
      throw new RepoError('REPO_EXISTS', `a repository already exists at ${this.dir}`, { path: this.dir });
    }
    const top = FILE_TYPES.filter((t) => t !== 'config');
    for (const t of top) {
      try {
        await ensureDir(this.abs(t));
      } catch (err) {
        throw mapFsError(err, t, 'create');
      }
    }
    await Promise.all(
      dataSubdirs().map(async (sub) => {
        try {
          await ensureDir(this.abs(`data/${sub}`));
        } catch (err) {
          throw mapFsError(err, `data/${sub}`, 'create');
        }
      }),
    );
    try {
      await syncDir(this.abs('data'));
      await syncDir(this.dir);
    } catch (err) {
      throw mapFsError(err, this.dir, 'create');
    }
  }

  async save(h: Handle, data: SaveData, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const rel = handleToPath(h);
    const signal = opts.signal;
    throwIfAborted(signal, rel);
    const final = this.abs(rel);
    try {
      await this.writeAtomic(rel, final, data, signal);
    } catch (err) {
      // A missing data/xx (or keys/ …) directory is recreated once; a missing repository root is not.
      if (errnoCode(err) === 'ENOENT' && h.type !== 'config') {
        try {
          await ensureDir(path.dirname(final));
        } catch {
          throw mapFsError(err, rel, 'save');
        }
        try {
          await this.writeAtomic(rel, final, data, signal);
          return;
        } catch (err2) {
          throw mapFsError(err2, rel, 'save');
        }
      }
      throw mapFsError(err, rel, 'save');
    }
  }

  /** A file written piece by piece under a temporary name in the type's directory (backend/local-upload.ts). */
  beginUpload(type: FileType, opts: { signal?: AbortSignal } = {}): Promise<LocalUpload> {
    validateFileType(type);
    return LocalUpload.begin(this.dir, type, opts.signal);
  }

  private async writeAtomic(rel: string, final: string, data: SaveData, signal?: AbortSignal): Promise<void> {
    const dir = path.dirname(final);
    const tmp = path.join(dir, TEMP_PREFIX + randomBytes(16).toString('hex'));
    let fh: FileHandle | undefined;
    let created = false;
    let renamed = false;
    try {
      fh = await fs.open(tmp, 'wx', FILE_MODE);
      created = true;
      await fh.chmod(FILE_MODE);
      await writeParts(fh, saveDataParts(data), () => throwIfAborted(signal, rel));
      await fh.sync();
      const closing = fh;
      fh = undefined;
      await closing.close();
      throwIfAborted(signal, rel);
      await fs.rename(tmp, final);
      renamed = true;
      await syncDir(dir);
    } catch (err) {
      if (fh !== undefined) await fh.close().catch(() => undefined);
      if (created && !renamed) await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async load(h: Handle, opts: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const rel = handleToPath(h);
    const signal = opts.signal;
    throwIfAborted(signal, rel);
    const file = this.abs(rel);
    if (opts.offset === undefined && opts.length === undefined) {
      try {
        return await fs.readFile(file, signal === undefined ? undefined : { signal });
      } catch (err) {
        throw mapFsError(err, rel, 'load');
      }
    }
    // Reject malformed numbers before any I/O (the size is not needed for that).
    validateRangeArgs(opts.offset, opts.length, rel);
    let fh: FileHandle | undefined;
    try {
      fh = await fs.open(file, 'r');
      const { size } = await fh.stat();
      const [start, end] = resolveRange(size, opts.offset, opts.length, rel);
      const buf = Buffer.allocUnsafeSlow(end - start);
      let done = 0;
      while (done < buf.length) {
        throwIfAborted(signal, rel);
        const { bytesRead } = await fh.read(buf, done, buf.length - done, start + done);
        if (bytesRead === 0) {
          throw new BackendError(`short read from ${rel}: got ${done} of ${buf.length} bytes at offset ${start}`, {
            file: rel,
            offset: start,
            length: buf.length,
          });
        }
        done += bytesRead;
      }
      return buf;
    } catch (err) {
      throw mapFsError(err, rel, 'load');
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  async stat(h: Handle): Promise<FileInfo> {
    const rel = handleToPath(h);
    try {
      const st = await fs.stat(this.abs(rel));
      return { name: h.name, size: st.size };
    } catch (err) {
      throw mapFsError(err, rel, 'stat');
    }
  }

  async exists(h: Handle): Promise<boolean> {
    const rel = handleToPath(h);
    try {
      await fs.stat(this.abs(rel));
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw mapFsError(err, rel, 'stat');
    }
  }

  async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    const signal = opts.signal;
    throwIfAborted(signal, type);
    if (type === 'config') {
      try {
        const st = await fs.stat(this.abs('config'));
        if (st.isFile()) yield { name: 'config', size: st.size };
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, 'config', 'list');
      }
      return;
    }
    if (type !== 'data') {
      // audit/ came with a later revision: a repository created before it simply has no entries yet.
      yield* this.listDir(type, undefined, signal, type === 'audit');
      return;
    }
    let subdirs: Dirent[];
    try {
      subdirs = await fs.readdir(this.abs('data'), { withFileTypes: true });
    } catch (err) {
      throw mapFsError(err, 'data', 'list');
    }
    for (const sub of subdirs) {
      if (!SUBDIR_RE.test(sub.name) || !sub.isDirectory()) continue;
      yield* this.listDir(`data/${sub.name}`, sub.name, signal, true);
    }
  }

  /** Yields the valid id files in one directory; with `prefix`, only ids starting with it (data/xx). */
  private async *listDir(
    rel: string,
    prefix: string | undefined,
    signal: AbortSignal | undefined,
    missingOk: boolean,
  ): AsyncIterable<FileInfo> {
    throwIfAborted(signal, rel);
    const dir = this.abs(rel);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (missingOk && errnoCode(err) === 'ENOENT') return;
      throw mapFsError(err, rel, 'list');
    }
    // Anything that is not a 64-hex id (temporary files, stray files) is ignored.
    names = names.filter((n) => isIdHex(n) && (prefix === undefined || n.startsWith(prefix)));
    for (let i = 0; i < names.length; i += STAT_BATCH) {
      throwIfAborted(signal, rel);
      const batch = names.slice(i, i + STAT_BATCH);
      const infos = await Promise.all(
        batch.map(async (name): Promise<FileInfo | undefined> => {
          try {
            const st = await fs.stat(path.join(dir, name));
            return st.isFile() ? { name, size: st.size } : undefined;
          } catch (err) {
            if (errnoCode(err) === 'ENOENT') return undefined; // removed while listing
            throw mapFsError(err, `${rel}/${name}`, 'list');
          }
        }),
      );
      for (const info of infos) if (info !== undefined) yield info;
    }
  }

  async remove(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    try {
      await fs.unlink(this.abs(rel));
    } catch (err) {
      throw mapFsError(err, rel, 'remove');
    }
  }

  /**
   * Removes `.tmp-*` files (left by crashed writers) whose modification time is older than
   * `maxAgeMs` (default one hour), so that writers still in progress are not disturbed.
   * Returns the number of files removed.
   */
  async cleanupTemporaryFiles(maxAgeMs: number = TEMP_MAX_AGE_MS): Promise<number> {
    const cutoff = Date.now() - maxAgeMs;
    const dirs = ['', ...FILE_TYPES.filter((t) => t !== 'config')];
    try {
      for (const sub of await fs.readdir(this.abs('data'))) {
        if (SUBDIR_RE.test(sub)) dirs.push(`data/${sub}`);
      }
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw mapFsError(err, 'data', 'list');
    }
    let removed = 0;
    for (const rel of dirs) {
      let names: string[];
      try {
        names = await fs.readdir(this.abs(rel));
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') continue;
        throw mapFsError(err, rel || '.', 'list');
      }
      for (const name of names) {
        if (!name.startsWith(TEMP_PREFIX)) continue;
        const relFile = rel === '' ? name : `${rel}/${name}`;
        const file = this.abs(relFile);
        try {
          const st = await fs.lstat(file);
          if (!st.isFile() || st.mtimeMs >= cutoff) continue;
          await fs.unlink(file);
          removed++;
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') continue;
          throw mapFsError(err, relFile, 'remove');
        }
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }
}
