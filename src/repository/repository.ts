// A repository opened with a password: blob storage through packs and the index, sealed files, config.
// Maintenance (check, prune, repair) and snapshots live in their own modules and use this one.

import type { Backend, FileType } from '../backend/backend.js';
import { isNotFound } from '../backend/backend.js';
import { attachCache } from '../backend/cache.js';
import { DryRunBackend } from '../backend/dry-run.js';
import { isRemoteStack } from '../backend/stack.js';
import { createChunker, DEFAULT_CHUNKER_PARAMS, type Chunker } from '../chunker/chunker.js';
import { IntegrityError, NotFoundError, RepoError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { blake3 } from '../crypto/blake3.js';
import { calibrateScrypt, type LaneThreads } from '../crypto/kdf.js';
import { randomBytes } from '../crypto/random.js';
import { AAD_CONFIG, AAD_INDEX, blobAad } from './aad.js';
import type { BlobType, Compression, IndexedBlob } from './blob.js';
import { Semaphore } from '../core/concurrency.js';
import { crashPoint } from '../core/crash-point.js';
import { defaultWorkerCount, SealPool } from './seal-pool.js';
import { compressionLevel, validateCompression } from './compression.js';
import { storedForm } from './blob-padding.js';
import {
  DEFAULT_PACK_SIZE,
  encodeConfig,
  chunkerForFormat,
  FORMAT_VERSION,
  PADME_PADDING,
  padsBlobs,
  parseConfig,
  validatePackSize,
  type RepoConfig,
} from './config.js';
import { encodeIndex, type PackRecord } from './index-file.js';
import { createKeyFile } from './keys.js';
import { unlockWithPassword, type UnlockedKey } from './key-unlock.js';
import { damagedIndexNote, loadIndexFiles } from './index-load.js';
import { MasterIndex } from './master-index.js';
import { MasterKey } from './master-key.js';
import { Packer } from './packer.js';
import { applyObjectLock, checkLockedInit, prepareLockedInit } from './object-lock-config.js';
import { openSealedBlob, packPath } from './blob-open.js';
import { MAX_CACHED_TREE_PACK, TreePackCache } from './tree-pack-cache.js';

const POOL_MIN_BLOB = 64 * 1024;

// An index file is written at the latest after this many new blobs, so an interrupted backup keeps most of its work.
const INDEX_FLUSH_BLOBS = 40_000;

import type { InitOptions, OpenOptions, SaveBlobResult, SmallFileResult, WriteStats } from './repository-options.js';

export type { InitOptions, OpenOptions, SaveBlobResult, SmallFileResult, WriteStats } from './repository-options.js';

export class Repository {
  readonly index = new MasterIndex();
  readonly chunker: Chunker;
  readonly stats: WriteStats = {
    blobsAdded: 0,
    rawBytesAdded: 0,
    storedBytesAdded: 0,
    packsWritten: 0,
    indexFilesWritten: 0,
  };
  private readonly packer: Packer;
  private readonly treePackCache = new TreePackCache((name) => this.backend.load({ type: 'data', name }));
  private readonly pendingIds = new Set<string>(); // type+hex of blobs sealed but not yet in a stored pack
  private unindexed: PackRecord[] = [];
  private ownsBackend = true;
  private readonly dryRun: boolean;
  /** Where new files go: `backend`, or a DryRunBackend over it for a dry run. */
  private readonly store: Backend;
  private unindexedBlobs = 0;
  private readonly level: number;
  // Started on first use: commands that only read never pay for the threads (start-up time and memory).
  private poolInstance?: SealPool;
  private readonly poolWorkers: number;
  private readonly sealSlots: Semaphore;
  /** Index files skipped as damaged by loadIndex: blobs only they list look missing (prune refuses to run). */
  readonly damagedIndexFiles: string[] = [];
  /**
   * Index files loadIndex found that another loaded index file supersedes: an interrupted rewrite left them, and
   * only a complete rewrite (prune) may remove them.
   */
  readonly supersededIndexFiles: string[] = [];
  /** Reports damage that was worked around; see OpenOptions.onWarning. */
  readonly warn: (message: string) => void;

  private constructor(
    readonly backend: Backend,
    readonly config: RepoConfig,
    readonly key: MasterKey,
    readonly keyName: string,
    opts: OpenOptions,
  ) {
    this.chunker = createChunker(config.chunker);
    this.level = compressionLevel(opts.compression ?? config.compression);
    this.poolWorkers = SealPool.available() ? (opts.workers ?? defaultWorkerCount()) : 0;
    // Bounds blobs in flight between chunking and packing, and so the memory they hold.
    this.sealSlots = new Semaphore(Math.max(2, Math.max(1, this.poolWorkers) * 3));
    this.dryRun = opts.dryRun === true;
    this.warn = opts.onWarning ?? ((m) => process.emitWarning(m));
    // A dry run writes through a DryRunBackend: packs and index files are computed and dropped there, and
    // anything else (a snapshot) is refused, so no flag needs to reach the writers.
    this.store = this.dryRun ? new DryRunBackend(backend) : backend;
    this.packer = new Packer(this.store, key.encryption, config.pack_size, (rec, size) => this.packStored(rec, size), {
      // A local disk gains nothing from parallel pack writes, and each one in flight holds a whole pack in
      // memory; object storage, SFTP and REST servers hide their latency behind several.
      maxConcurrentUploads: opts.maxConcurrentUploads ?? (isRemoteStack(backend) ? 4 : 1),
    });
  }

  get id(): string {
    return this.config.id;
  }

  /** Creates a new repository in an empty backend and returns it opened. */
  static async init(backend: Backend, password: string, opts: InitOptions = {}): Promise<Repository> {
    if (await backend.exists({ type: 'config', name: 'config' })) {
      throw new RepoError('REPO_EXISTS', `a repository already exists at ${backend.location}`);
    }
    const version = opts.format ?? FORMAT_VERSION;
    const config: RepoConfig = {
      version,
      id: Buffer.from(randomBytes(32)).toString('hex'),
      chunker: chunkerForFormat(version, opts.chunker ?? DEFAULT_CHUNKER_PARAMS),
      compression: validateCompression(opts.compression ?? 'auto'),
      pack_size: validatePackSize(opts.packSize ?? DEFAULT_PACK_SIZE),
      created: (opts.now ?? new Date()).toISOString(),
      ...(version >= 2 ? { blob_padding: PADME_PADDING } : {}),
    };
    if (opts.objectLock !== undefined) config.object_lock = { ...opts.objectLock };
    createChunker(config.chunker); // validates
    const key = MasterKey.generate();
    if (opts.objectLock !== undefined) prepareLockedInit(backend, opts.objectLock);
    await backend.create();
    if (opts.objectLock !== undefined) await checkLockedInit(backend);
    const keyBytes = await createKeyFile(password, key, opts.kdf ?? (await calibrateScrypt()), opts.now);
    const keyName = blake3(keyBytes).toString('hex');
    await backend.save({ type: 'keys', name: keyName }, keyBytes);
    // The config is written last: a repository without config is not a repository, so a crash leaves nothing half-made.
    await backend.save({ type: 'config', name: 'config' }, key.encryption.seal(encodeConfig(config), AAD_CONFIG));
    const repo = new Repository(backend, config, key, keyName, { workers: opts.workers });
    repo.attachCache();
    return repo;
  }

  /** Opens with the first key file the password fits; WRONG_PASSWORD if none does. */
  static async open(backend: Backend, password: string, opts: OpenOptions = {}): Promise<Repository> {
    const { key, keyName, damage } = await Repository.unlock(backend, password, opts.kdfThreads);
    const sealed = await backend.load({ type: 'config', name: 'config' });
    let plain: Buffer;
    try {
      plain = key.encryption.open(sealed, AAD_CONFIG);
    } catch (err) {
      throw new IntegrityError('config fails authentication', { file: 'config' }, { cause: err });
    }
    const repo = new Repository(backend, parseConfig(plain), key, keyName, opts);
    if (damage !== undefined) repo.warn(damage);
    applyObjectLock(backend, repo.config, repo.warn);
    repo.attachCache();
    if (!opts.skipIndex) await repo.loadIndex();
    return repo;
  }

  /**
   * Opens with a master key recovered from outside the repository (a recovery file or code, spec §17) instead
   * of a key file's password; INTEGRITY when the config does not authenticate under it (another repository).
   * `keyName` is empty: no key file opened this handle.
   */
  static async openWithMasterKey(backend: Backend, key: MasterKey, opts: OpenOptions = {}): Promise<Repository> {
    const sealed = await backend.load({ type: 'config', name: 'config' });
    let plain: Buffer;
    try {
      plain = key.encryption.open(sealed, AAD_CONFIG);
    } catch (err) {
      throw new IntegrityError(
        "the recovered master key does not open this repository's config: it belongs to another repository",
        { file: 'config' },
        { cause: err },
      );
    }
    const repo = new Repository(backend, parseConfig(plain), key, '', opts);
    repo.attachCache();
    if (!opts.skipIndex) await repo.loadIndex();
    return repo;
  }

  /**
   * A second handle on the same repository with the same key (no password needed), e.g. with `skipIndex`
   * for prune and repair, which must store blobs again instead of deduplicating them against doomed packs.
   */
  async sibling(opts: OpenOptions = {}): Promise<Repository> {
    const repo = new Repository(this.backend, this.config, this.key, this.keyName, { onWarning: this.warn, ...opts });
    repo.ownsBackend = false; // closing a sibling must not close the storage the first handle still uses
    if (!opts.skipIndex) await repo.loadIndex();
    return repo;
  }

  static async unlock(backend: Backend, password: string, kdfThreads?: LaneThreads): Promise<UnlockedKey> {
    return unlockWithPassword(backend, password, kdfThreads);
  }

  /**
   * Loads every index file into memory. A damaged index file is skipped with a warning naming it and
   * `repair index`, and listed in damagedIndexFiles; with `strict`, it raises an IntegrityError instead.
   */
  async loadIndex(opts: { strict?: boolean } = {}): Promise<void> {
    await loadIndexFiles(this, opts.strict === true);
  }

  hasBlob(type: BlobType, id: Uint8Array): boolean {
    return this.index.has(type, id) || this.pendingIds.has(type + idToHex(id));
  }

  /** Stores a blob unless the repository already has it. Its id is the keyed hash of `plain`. */
  /**
   * `donate` promises that the caller never touches `plain` again, so it may be moved to a worker
   * thread instead of copied (its memory is detached from the caller).
   */
  async saveBlob(
    type: BlobType,
    plain: Buffer,
    knownId?: Buffer,
    opts: { donate?: boolean } = {},
  ): Promise<SaveBlobResult> {
    const id = knownId ?? this.key.blobId(plain);
    const pendingKey = type + idToHex(id);
    if (this.index.has(type, id) || this.pendingIds.has(pendingKey)) return { id, known: true, storedLength: 0 };
    this.pendingIds.add(pendingKey);
    const rawLength = plain.length; // a donated buffer is detached once it moves to a worker
    const { sealed, compression } = await this.sealSlots.run(() => this.seal(type, id, plain, opts.donate === true));
    await this.addSealed(type, id, rawLength, sealed, compression);
    return { id, known: false, storedLength: sealed.length };
  }

  private async addSealed(
    type: BlobType,
    id: Buffer,
    rawLength: number,
    sealed: Buffer,
    compression: Compression,
  ): Promise<void> {
    this.stats.blobsAdded++;
    this.stats.rawBytesAdded += rawLength;
    this.stats.storedBytesAdded += sealed.length;
    await this.packer.add({ type, id, compression, rawLength, sealed });
  }

  private pool(): SealPool | undefined {
    if (this.poolInstance === undefined && this.poolWorkers > 0)
      this.poolInstance = SealPool.create(
        this.key.bytes(),
        this.config.chunker,
        this.poolWorkers,
        padsBlobs(this.config),
      );
    return this.poolInstance;
  }

  /** Whether saveSmallFile can work (a worker pool exists); otherwise files go through the chunker and saveBlob. */
  get sealsFiles(): boolean {
    return this.poolWorkers > 0;
  }

  /**
   * Reads a whole file of at most `limit` bytes (its size and mtime after reading come back for the
   * caller's changed-while-read check) on a worker thread (chunk, hash, compress, seal there)
   * and stores the blobs the repository does not have yet. Only for small files: the file is held in
   * memory whole. 'too-large' means it grew past `limit` since it was listed.
   */
  async saveSmallFile(path: Buffer, limit: number): Promise<SmallFileResult> {
    const pool = this.pool();
    if (!pool) throw new RepoError('INVALID_ARGUMENT', 'saveSmallFile needs seal workers');
    const r = await pool.sealFile(path, limit, this.level); // the caller bounds files in flight
    if (r.status !== 'ok') return r;
    const ids: Buffer[] = [];
    let newBlobs = 0;
    for (const c of r.chunks) {
      const id = Buffer.from(c.id.buffer, c.id.byteOffset, c.id.byteLength);
      ids.push(id);
      const pendingKey = 'data' + idToHex(id);
      // Sealed for nothing when another file had the same chunk: cheaper than a round trip to ask first.
      if (this.index.has('data', id) || this.pendingIds.has(pendingKey)) continue;
      this.pendingIds.add(pendingKey);
      newBlobs++;
      await this.addSealed(
        'data',
        id,
        c.rawLength,
        Buffer.from(c.sealed.buffer, c.sealed.byteOffset, c.sealed.byteLength),
        c.compression as Compression,
      );
    }
    return { status: 'ok', size: r.size, sizeAfter: r.sizeAfter, mtimeNs: BigInt(r.mtimeNs), ids, newBlobs };
  }

  /** The id a blob with this plaintext has in this repository (keyed BLAKE3, spec §6). */
  blobId(plain: Uint8Array): Buffer {
    return this.key.blobId(plain);
  }

  private async seal(
    type: BlobType,
    id: Buffer,
    plain: Buffer,
    donate: boolean,
  ): Promise<{ sealed: Buffer; compression: Compression }> {
    // Handing a small blob to a worker costs more (message, copy, wake-up) than sealing it here.
    const pool = plain.length >= POOL_MIN_BLOB ? this.pool() : undefined;
    if (pool) return pool.seal(type, id, plain, this.level, donate);
    const { data, compression } = storedForm(plain, this.level, padsBlobs(this.config));
    return { sealed: this.key.encryption.seal(data, blobAad(type, id)), compression };
  }

  /** Loads, authenticates, decompresses and re-hashes a blob; tries duplicate locations before failing. */
  async loadBlob(type: BlobType, id: Buffer): Promise<Buffer> {
    const locations = this.index.lookupAll(type, id);
    if (locations.length === 0) {
      const note = this.damagedIndexFiles.length > 0 ? `; ${damagedIndexNote(this.damagedIndexFiles)}` : '';
      throw new NotFoundError(`${type} blob ${idToHex(id)} is not in the index${note}`, { blob: idToHex(id) });
    }
    let firstError: unknown;
    for (const loc of locations) {
      try {
        return await this.loadBlobAt(loc);
      } catch (err) {
        firstError ??= err;
      }
    }
    throw firstError;
  }

  /** Reads one blob from a known location and proves it is the blob the index names. */
  async loadBlobAt(loc: IndexedBlob): Promise<Buffer> {
    if (loc.type === 'tree' && this.config.pack_size <= MAX_CACHED_TREE_PACK) {
      // Walking a snapshot loads thousands of small trees from a few packs: one read per pack, not per tree.
      const pack = await this.treePackCache.get(loc.pack).catch(() => undefined);
      if (pack !== undefined && loc.offset + loc.storedLength <= pack.length)
        return this.openBlob(loc, pack.subarray(loc.offset, loc.offset + loc.storedLength));
    }
    const stored = await this.loadPackRange(loc.pack, loc.offset, loc.storedLength);
    return this.openBlob(loc, stored);
  }

  /** Lets go of the whole tree packs kept for loading trees (call when done walking trees for a while). */
  clearTreePackCache(): void {
    this.treePackCache.clear();
  }

  /** Decrypts, decompresses and verifies one stored blob; never returns bytes whose keyed hash differs from its id. */
  openBlob(loc: IndexedBlob, stored: Buffer): Buffer {
    return openSealedBlob(this.key, loc, stored);
  }

  async loadPackRange(pack: string, offset: number, length: number): Promise<Buffer> {
    try {
      return await this.backend.load({ type: 'data', name: pack }, { offset, length });
    } catch (err) {
      if (isNotFound(err))
        throw new NotFoundError(`pack ${pack} is missing`, { pack, file: packPath(pack) }, { cause: err });
      throw err;
    }
  }

  /** Stores all buffered blobs and writes an index file for them. Call before saving a snapshot that references them. */
  async flush(): Promise<void> {
    await this.packer.flush();
    await this.writeIndex();
  }

  /**
   * After an interruption: waits for packs already being stored and indexes them, so their blobs are not
   * stored again by the next backup; blobs still being collected are dropped. No snapshot refers to them.
   */
  async abort(): Promise<void> {
    await this.packer.drain();
    await this.writeIndex();
  }

  /** Seals and stores a file named by its storage id; returns the id. */
  async saveUnpacked(type: Exclude<FileType, 'config' | 'data'>, plain: Buffer, aad: Buffer): Promise<string> {
    const bytes = this.key.encryption.seal(plain, aad);
    const name = blake3(bytes).toString('hex');
    await this.store.save({ type, name }, bytes);
    return name;
  }

  /** Loads a sealed file, checks its storage id and opens it; errors name the file. */
  async loadUnpacked(type: Exclude<FileType, 'config' | 'data'>, name: string, aad: Buffer): Promise<Buffer> {
    const file = `${type}/${name}`;
    let bytes: Buffer;
    try {
      bytes = await this.backend.load({ type, name });
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`${file} is missing`, { file }, { cause: err });
      throw err;
    }
    verifyStorageId(bytes, type, name);
    try {
      return this.key.encryption.open(bytes, aad);
    } catch (err) {
      throw new IntegrityError(`${file} fails authentication`, { file }, { cause: err });
    }
  }

  async listNames(type: FileType): Promise<string[]> {
    const names: string[] = [];
    for await (const f of this.backend.list(type)) names.push(f.name);
    return names.sort();
  }

  async close(): Promise<void> {
    await this.poolInstance?.close();
    if (this.ownsBackend) await this.backend.close();
  }

  private packStored(rec: PackRecord, size: number): void {
    for (const b of rec.blobs) {
      this.index.add(rec.pack, b);
      this.pendingIds.delete(b.type + idToHex(b.id));
    }
    this.stats.packsWritten++;
    this.stats.storedBytesAdded += size - rec.blobs.reduce((n, b) => n + b.storedLength, 0);
    this.unindexed.push(rec);
    this.unindexedBlobs += rec.blobs.length;
    crashPoint('pack-stored'); // test-only (core/crash-point.ts)
    if (this.unindexedBlobs >= INDEX_FLUSH_BLOBS) void this.writeIndex().catch(() => undefined);
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0 || this.dryRun) return;
    const packs = this.unindexed;
    this.unindexed = [];
    this.unindexedBlobs = 0;
    try {
      await this.saveUnpacked('index', encodeIndex({ supersedes: [], packs }), AAD_INDEX);
      this.stats.indexFilesWritten++;
      crashPoint('index-written');
    } catch (err) {
      this.unindexed.unshift(...packs); // retried by the next flush
      throw err;
    }
  }

  /** Tells a local cache in the backend stack (backend/cache.ts) which repository this is and which packs hold trees. */
  attachCache(): void {
    attachCache(this.backend, this.config.id, (pack) => this.index.packHoldsTrees(pack));
  }
}

export { packPath };

/** Every file but config is named by the BLAKE3 of its bytes (spec §2). */
export function verifyStorageId(bytes: Buffer, type: FileType, name: string): void {
  if (blake3(bytes).toString('hex') !== name) {
    const file = type === 'data' ? packPath(name) : `${type}/${name}`;
    throw new IntegrityError(`${file} is damaged: its content does not match its name`, { file });
  }
}
