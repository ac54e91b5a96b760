// CacheBackend: a local on-disk copy of a remote repository's immutable metadata (index files, snapshot
// files, tree packs), so that listing snapshots, browsing trees and finding a backup's parent do not download
// them again. Must never serve bytes whose BLAKE3 differs from their name, never fail an operation because the
// cache is unusable (it falls back to the repository), and never hold anything but encrypted repository files.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { RepoError, errnoCode } from '../core/errors.js';
import {
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  type SaveData,
  type SaveOptions,
  handleToPath,
  isValidName,
  resolveRange,
  saveDataParts,
  throwIfAborted,
  validateFileType,
  validateRangeArgs,
} from './backend.js';
import { WrappingBackend, unwrap } from './stack.js';
import { CACHEDIR_TAG, DIR_MODE, FILE_MODE, TEMP_PREFIX, blake3Hex } from './cache-dir.js';

export { defaultCacheDir } from './cache-dir.js';

/** Where the cache lives and how it checks files. */
export interface CacheOptions {
  /**
   * Base directory of all caches (default: defaultCacheDir()). A repository's files go to
   * `<dir>/<repository id>/` in the repository's own layout (`index/…`, `snapshots/…`, `data/xx/…`).
   */
  dir: string;
  /**
   * The storage id of a file's bytes; default unkeyed BLAKE3-256 hex (spec §2). A cached file whose id
   * differs from its name is dropped and fetched again; a fetched one is then not cached.
   */
  storageId?: (parts: readonly Uint8Array[]) => string;
  /** Told once when the cache cannot be written or read (the operation itself goes on without it). */
  onWarning?: (message: string) => void;
}

/** Counters of one CacheBackend (for tests, -v output and the bench). */
export interface CacheStats {
  /** Loads served from the cache. */
  hits: number;
  /** Loads of cacheable files that went to the repository. */
  misses: number;
  /** Files written into the cache (on save or after a miss). */
  writes: number;
  /** Cached files dropped because their content did not match their name. */
  dropped: number;
  /** Cached files removed because the repository no longer has them. */
  stale: number;
}

/** Rejects as soon as `signal` aborts, without cancelling `p` (which others may share). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, file: string): Promise<T> {
  if (signal === undefined) return p;
  throwIfAborted(signal, file);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new RepoError('INTERRUPTED', 'operation aborted', { file }, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Wraps a (remote) Backend and keeps local copies of the files that never change once written and are
 * read again and again: index files, snapshot files and tree packs. Everything else (config, keys, locks,
 * data packs) passes straight through.
 *
 * Which repository? The cache is keyed by the repository id, which only the encrypted config holds, so
 * a CacheBackend starts detached (a transparent pass-through) and the Repository attaches it once it has
 * read the config (`attach(id, isTreePack)`, called by Repository.open and Repository.init). Which packs
 * hold trees? All blobs of a pack have one type and the index knows it, so the Repository hands over a
 * predicate over its index; on save the packer marks tree packs with the `metadata` hint.
 *
 * - load: a cached file is served when the BLAKE3 of its bytes equals its name (checked on every whole
 *   read, and once per process for a file read by ranges); a mismatch drops the entry and the file is
 *   fetched again. A miss of a tree pack fetches the whole pack once (concurrent misses share the fetch),
 *   caches it and serves the range from it. A fetched file whose bytes do not match its name is returned
 *   but not cached (the repository layer reports the damage).
 * - save: stored in the repository first, then copied into the cache (index, snapshots, hinted tree packs).
 * - remove: removed from the repository and from the cache.
 * - list: a complete listing of index, snapshots or data removes cached entries the repository no longer
 *   has (entries written after the listing began are kept).
 *
 * Files are written to a temporary name and renamed, so a cache entry is complete or absent; no fsync:
 * a file damaged by a crash fails the name check and is fetched again. Cache failures never fail a call:
 * they are reported once through onWarning and the repository is used instead.
 */
export class CacheBackend extends WrappingBackend {
  readonly stats: CacheStats = { hits: 0, misses: 0, writes: 0, dropped: 0, stale: 0 };
  private readonly baseDir: string;
  private readonly storageId: (parts: readonly Uint8Array[]) => string;
  private readonly onWarning: ((message: string) => void) | undefined;
  private root: string | undefined;
  private isTreePack: (pack: string) => boolean = () => false;
  private readonly verified = new Set<string>();
  private readonly fetches = new Map<string, Promise<Buffer>>();
  private warned = false;

  constructor(inner: Backend, opts: CacheOptions) {
    super(inner);
    if (typeof opts.dir !== 'string' || opts.dir === '') {
      throw new RepoError('INVALID_ARGUMENT', 'the cache directory must be a non-empty path');
    }
    this.baseDir = path.resolve(opts.dir);
    this.storageId = opts.storageId ?? blake3Hex;
    this.onWarning = opts.onWarning;
  }

  /**
   * Binds the cache to a repository: its files go to `<dir>/<repositoryId>/`. `isTreePack` says whether a
   * pack holds tree blobs (it is asked at load time, so it may consult an index that grows). Until this is
   * called, every call passes through.
   */
  attach(repositoryId: string, isTreePack?: (pack: string) => boolean): void {
    if (!/^[0-9a-f]{64}$/.test(repositoryId)) {
      throw new RepoError('INVALID_ARGUMENT', 'a repository id is 64 lowercase hex characters');
    }
    const root = path.join(this.baseDir, repositoryId);
    if (root !== this.root) this.verified.clear();
    this.root = root;
    if (isTreePack !== undefined) this.isTreePack = isTreePack;
  }

  /** The directory of the attached repository's cache, or undefined while detached. */
  get directory(): string | undefined {
    return this.root;
  }

  private cacheable(h: Handle): boolean {
    if (this.root === undefined) return false;
    if (h.type === 'index' || h.type === 'snapshots') return true;
    return h.type === 'data' && this.isTreePack(h.name);
  }

  private file(rel: string): string {
    return path.join(this.root!, ...rel.split('/'));
  }

  private warn(message: string, err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    const detail = err instanceof Error ? err.message : String(err);
    try {
      this.onWarning?.(`local cache: ${message}: ${detail} (continuing without it)`);
    } catch {
      // a reporting callback must not change the outcome
    }
  }

  override async create(): Promise<void> {
    return this.inner.create();
  }

  override async save(h: Handle, data: SaveData, opts: SaveOptions = {}): Promise<void> {
    const rel = handleToPath(h);
    await this.inner.save(h, data, opts.signal === undefined ? {} : { signal: opts.signal });
    if (this.root === undefined) return;
    const wanted = h.type === 'index' || h.type === 'snapshots' || (h.type === 'data' && opts.metadata === true);
    if (!wanted) return;
    const parts = saveDataParts(data);
    if (this.storageId(parts) !== h.name) return; // not content-named: never cached
    await this.writeEntry(rel, parts);
  }

  override async load(
    h: Handle,
    opts: { offset?: number; length?: number; signal?: AbortSignal } = {},
  ): Promise<Buffer> {
    const rel = handleToPath(h);
    throwIfAborted(opts.signal, rel);
    if (!this.cacheable(h)) return this.inner.load(h, opts);
    validateRangeArgs(opts.offset, opts.length, rel);
    const ranged = opts.offset !== undefined || opts.length !== undefined;
    const hit = await this.readEntry(h, rel, opts.offset, opts.length);
    throwIfAborted(opts.signal, rel);
    if (hit !== undefined) {
      this.stats.hits++;
      return hit;
    }
    this.stats.misses++;
    // A part of an index or snapshot file: nobody reads those by ranges; no reason to fetch the whole.
    if (ranged && h.type !== 'data') return this.inner.load(h, opts);
    const whole = await abortable(this.fetch(h, rel), opts.signal, rel);
    const [start, end] = resolveRange(whole.length, opts.offset, opts.length, rel);
    return Buffer.from(whole.subarray(start, end)); // a copy: concurrent callers share `whole`
  }

  /** Loads a whole file from the repository and caches it if its bytes match its name; concurrent calls share one fetch. */
  private fetch(h: Handle, rel: string): Promise<Buffer> {
    let p = this.fetches.get(rel);
    if (p === undefined) {
      p = (async () => {
        const bytes = await this.inner.load(h);
        if (this.root !== undefined && this.storageId([bytes]) === h.name) {
          await this.writeEntry(rel, [bytes]);
          this.verified.add(rel);
        }
        return bytes;
      })().finally(() => this.fetches.delete(rel));
      this.fetches.set(rel, p);
    }
    return p;
  }

  /** The cached bytes (the range of them), or undefined when the entry is absent, unreadable or damaged (then dropped). */
  private async readEntry(
    h: Handle,
    rel: string,
    offset: number | undefined,
    length: number | undefined,
  ): Promise<Buffer | undefined> {
    const file = this.file(rel);
    const ranged = offset !== undefined || length !== undefined;
    if (ranged && this.verified.has(rel)) {
      const part = await this.readRange(file, rel, offset, length);
      if (part !== undefined) return part;
      this.verified.delete(rel); // vanished or shrank: check it all again
    }
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.warn(`cannot read ${file}`, err);
      return undefined;
    }
    if (this.storageId([bytes]) !== h.name) {
      this.stats.dropped++;
      this.verified.delete(rel);
      await fs.rm(file, { force: true }).catch(() => undefined);
      return undefined;
    }
    this.verified.add(rel);
    if (!ranged) return bytes; // freshly read: owned by the caller
    const [start, end] = resolveRange(bytes.length, offset, length, rel);
    return Buffer.from(bytes.subarray(start, end));
  }

  /** A range of an already verified entry, or undefined if it is gone or shorter than expected. Throws for a range past its end. */
  private async readRange(
    file: string,
    rel: string,
    offset: number | undefined,
    length: number | undefined,
  ): Promise<Buffer | undefined> {
    let fh: FileHandle | undefined;
    try {
      fh = await fs.open(file, 'r');
      const size = (await fh.stat()).size;
      const [start, end] = resolveRange(size, offset, length, rel);
      const out = Buffer.allocUnsafe(end - start);
      let got = 0;
      while (got < out.length) {
        const { bytesRead } = await fh.read(out, got, out.length - got, start + got);
        if (bytesRead === 0) return undefined;
        got += bytesRead;
      }
      return out;
    } catch (err) {
      if (err instanceof RepoError) throw err;
      if (errnoCode(err) !== 'ENOENT') this.warn(`cannot read ${file}`, err);
      return undefined;
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  /** Writes a cache entry under a temporary name and renames it into place. Failures are reported once and ignored. */
  private async writeEntry(rel: string, parts: readonly Uint8Array[]): Promise<void> {
    const file = this.file(rel);
    const dir = path.dirname(file);
    const tmp = path.join(dir, TEMP_PREFIX + randomBytes(12).toString('hex'));
    try {
      await this.ensureDirs(dir);
      const fh = await fs.open(tmp, 'wx', FILE_MODE);
      try {
        for (const p of parts) {
          let off = 0;
          while (off < p.byteLength) off += (await fh.write(p, off, p.byteLength - off)).bytesWritten;
        }
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, file);
      this.stats.writes++;
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      this.warn(`cannot write ${file}`, err);
    }
  }

  private readonly madeDirs = new Set<string>();

  private async ensureDirs(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    if (!this.madeDirs.has(this.baseDir)) {
      await fs.mkdir(this.baseDir, { recursive: true, mode: DIR_MODE });
      // Backup programs skip directories tagged like this; nobody wants the cache in their backups.
      await fs
        .writeFile(path.join(this.baseDir, 'CACHEDIR.TAG'), CACHEDIR_TAG, { flag: 'wx', mode: FILE_MODE })
        .catch(() => undefined);
      this.madeDirs.add(this.baseDir);
    }
    await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
    this.madeDirs.add(dir);
  }

  override async stat(h: Handle): Promise<FileInfo> {
    return this.inner.stat(h);
  }

  override async exists(h: Handle): Promise<boolean> {
    return this.inner.exists(h);
  }

  override async remove(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    try {
      await this.inner.remove(h);
    } finally {
      if (this.root !== undefined && (h.type === 'index' || h.type === 'snapshots' || h.type === 'data')) {
        this.verified.delete(rel);
        await fs.rm(this.file(rel), { force: true }).catch(() => undefined);
      }
    }
  }

  override async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    const root = this.root;
    if (root === undefined || (type !== 'index' && type !== 'snapshots' && type !== 'data')) {
      yield* this.inner.list(type, opts);
      return;
    }
    const started = Date.now();
    const names = new Set<string>();
    for await (const f of this.inner.list(type, opts)) {
      names.add(f.name);
      yield f;
    }
    // Reached only when the caller consumed the whole listing: anything cached but not listed is gone.
    await this.removeMissing(root, type, (name) => names.has(name), started);
  }

  /**
   * Removes cached tree packs that `keep` rejects (e.g. packs the freshly loaded index no longer names),
   * except those written in the last `graceMs` (a concurrent backup may not have indexed them yet).
   */
  async dropPacks(keep: (pack: string) => boolean, graceMs = 60 * 60 * 1000): Promise<void> {
    if (this.root === undefined) return;
    await this.removeMissing(this.root, 'data', keep, Date.now() - graceMs);
  }

  /** Removes entries of `type` for which `keep` is false and whose mtime is before `before` (ms). */
  private async removeMissing(
    root: string,
    type: 'index' | 'snapshots' | 'data',
    keep: (name: string) => boolean,
    before: number,
  ): Promise<void> {
    const dirs: string[] = [];
    const base = path.join(root, type);
    if (type === 'data') {
      let subs: string[];
      try {
        subs = await fs.readdir(base);
      } catch {
        return;
      }
      for (const s of subs) if (/^[0-9a-f]{2}$/.test(s)) dirs.push(path.join(base, s));
    } else {
      dirs.push(base);
    }
    for (const dir of dirs) {
      let entries: string[];
      try {
        entries = await fs.readdir(dir);
      } catch {
        continue;
      }
      for (const name of entries) {
        const file = path.join(dir, name);
        if (isValidName(type, name)) {
          if (keep(name)) continue;
        } else if (!name.startsWith(TEMP_PREFIX)) {
          continue; // not ours
        }
        try {
          const st = await fs.stat(file);
          if (st.mtimeMs >= before - 1000) continue; // written while (or after) the listing ran
          await fs.rm(file, { force: true });
          if (isValidName(type, name)) {
            this.stats.stale++;
            this.verified.delete(type === 'data' ? `data/${name.slice(0, 2)}/${name}` : `${type}/${name}`);
          }
        } catch {
          // vanished meanwhile, or not removable: leave it
        }
      }
    }
  }
}

/** The CacheBackend in b's stack, if there is one. */
export function findCache(b: Backend): CacheBackend | undefined {
  return unwrap(b, CacheBackend);
}

/** Attaches the CacheBackend in b's stack (if any) to a repository; see CacheBackend.attach. */
export function attachCache(b: Backend, repositoryId: string, isTreePack: (pack: string) => boolean): void {
  findCache(b)?.attach(repositoryId, isTreePack);
}
