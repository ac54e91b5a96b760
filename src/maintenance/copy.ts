// Copying snapshots from one repository into another (`repo copy`). Blob ids are keyed per repository
// (spec §6), so every blob is re-identified: loaded from the source, hashed with the destination's id key,
// stored when the destination lacks it, and trees are rewritten with the new ids.
// Must never save a snapshot before every blob it references is stored and indexed in the destination,
// and never copy a snapshot the destination already holds a copy of.

import { timingSafeEqual } from 'node:crypto';
import { Semaphore } from '../core/concurrency.js';
import { RepoError } from '../core/errors.js';
import { idFromHex, idToHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, saveSnapshot, sortByTime, type Snapshot, type StoredSnapshot } from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { loadTree, saveTree } from '../tree/tree-store.js';
import { quoteName, treeFaults } from '../tree/validate.js';

export type CopySource = Pick<Repository, 'id' | 'key' | 'loadBlob' | 'loadUnpacked' | 'listNames'>;
export type CopyDestination = Pick<
  Repository,
  | 'id'
  | 'key'
  | 'blobId'
  | 'chunker'
  | 'hasBlob'
  | 'saveBlob'
  | 'loadBlob'
  | 'flush'
  | 'saveUnpacked'
  | 'loadUnpacked'
  | 'listNames'
>;

export interface CopyProgress {
  /** Source snapshot being copied. */
  snapshot: string;
  /** Snapshots finished (copied or skipped) and to do. */
  done: number;
  total: number;
  /** Blobs read from the source so far, and their plaintext bytes. */
  blobsRead: number;
  bytesRead: number;
}

export interface CopyOptions {
  /** Source blobs loaded and stored at once (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: CopyProgress) => void;
  /** One line per node left out of a copied tree (see Copier.copyTreeNow); the copy goes on. */
  onWarning?: (message: string) => void;
  /**
   * Cut every file again with the destination's chunker instead of copying its blobs as they are: for a
   * format-2 destination whose chunker differs from the source's (another secret, or format 1's public
   * boundaries), so that copied files deduplicate against its own backups and keep no foreign boundaries.
   */
  rechunk?: boolean;
}

export interface CopiedSnapshot {
  /** Source snapshot id. */
  source: string;
  /** The destination snapshot: the new copy, or the earlier copy for a skipped one. */
  destination: string;
}

export interface CopyResult {
  copied: CopiedSnapshot[];
  /** Snapshots the destination already had a copy of (nothing was done for them). */
  skipped: CopiedSnapshot[];
  /** New blobs stored in the destination, and the plaintext bytes of the new data blobs. */
  dataBlobsAdded: number;
  treeBlobsAdded: number;
  dataBytesAdded: number;
  /** Data blobs loaded from the source (each at most once per run). */
  blobsRead: number;
  bytesRead: number;
  /** Nodes left out of copied trees, each reported through onWarning. */
  warnings: number;
}

/** How a copy treats chunk boundaries between two repositories: the one rule `repo copy` and profile copies share. */
export interface CopyChunking {
  /** Same algorithm, sizes and secret: blobs are copied as they are and dedupe with later backups. */
  sameChunker: boolean;
  /**
   * A format-2 destination with another chunker re-cuts whatever the source's cut: copied files then dedupe
   * against its own backups and carry none of the source's boundaries (format 1's are public, spec/format-2.md §1).
   * Into a format-1 destination blobs are copied as they are, whatever cut them.
   */
  rechunk: boolean;
}

export function copyChunking(src: Pick<Repository, 'config'>, dst: Pick<Repository, 'config'>): CopyChunking {
  const a = src.config.chunker;
  const b = dst.config.chunker;
  const sameChunker =
    a.min === b.min && a.avg === b.avg && a.max === b.max && a.algorithm === b.algorithm && a.secret === b.secret;
  return { sameChunker, rechunk: !sameChunker && dst.config.version >= 2 };
}

/** The id that names a snapshot across copies and rewrites: its `original`, or its own id. */
function persistentId(sn: StoredSnapshot): string {
  return sn.original ?? sn.id;
}

function sameList(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  const x = [...(a ?? [])].map(String).sort();
  const y = [...(b ?? [])].map(String).sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Whether `copy` is a copy of `sn` (restic's rule): the same persistent id (checked by the caller) and the
 * same time, host, user, uid/gid, paths, excludes and tags. Trees cannot be compared: their ids differ.
 */
export function isCopyOf(copy: Snapshot, sn: Snapshot): boolean {
  return (
    copy.time === sn.time &&
    copy.hostname === sn.hostname &&
    copy.username === sn.username &&
    copy.uid === sn.uid &&
    copy.gid === sn.gid &&
    sameList(copy.paths, sn.paths) &&
    sameList(copy.excludes, sn.excludes) &&
    sameList(copy.tags, sn.tags)
  );
}

/** The destination's existing copy of `sn`, if any. */
function findCopy(byPersistentId: Map<string, StoredSnapshot[]>, sn: StoredSnapshot): StoredSnapshot | undefined {
  return byPersistentId.get(persistentId(sn))?.find((d) => isCopyOf(d, sn));
}

function groupKey(sn: Snapshot): string {
  return JSON.stringify([sn.hostname, [...sn.paths].sort()]);
}

/**
 * Copies `snapshots` of `src` into `dst`, oldest first, skipping those `dst` already has a copy of.
 * Each copy keeps time, host, user, paths, tags, excludes and summary, drops `parent` (it names a source
 * snapshot) and records `original` (the source's own `original`, or its id). Blobs are loaded from the
 * source at most once per run; before copying a snapshot, the trees of the newest earlier copy of the same
 * host and paths are walked side by side with their source trees, so unchanged files are mapped to the
 * destination ids already stored without loading their data again. Callers hold shared locks on both.
 */
export async function copySnapshots(
  src: CopySource,
  dst: CopyDestination,
  snapshots: StoredSnapshot[],
  opts: CopyOptions = {},
): Promise<CopyResult> {
  if (src.id === dst.id) {
    throw new RepoError('INVALID_ARGUMENT', 'the source and the destination are the same repository');
  }
  const copier = new Copier(src, dst, opts);
  const existing = await listSnapshots(dst);
  const byPersistentId = new Map<string, StoredSnapshot[]>();
  for (const d of existing) {
    const list = byPersistentId.get(persistentId(d)) ?? [];
    list.push(d);
    byPersistentId.set(persistentId(d), list);
  }
  const unique = sortByTime([...new Map(snapshots.map((s) => [s.id, s])).values()]);
  const result: CopyResult = {
    copied: [],
    skipped: [],
    dataBlobsAdded: 0,
    treeBlobsAdded: 0,
    dataBytesAdded: 0,
    blobsRead: 0,
    bytesRead: 0,
    warnings: 0,
  };

  // The newest earlier copy per (host, paths): the id map is seeded from it, like a backup's parent.
  const lastCopy = new Map<string, { source: StoredSnapshot; copy: StoredSnapshot }>();
  const sourceById = new Map<string, StoredSnapshot>();
  for (const s of await listSnapshots(src)) sourceById.set(s.id, s);
  for (const s of sourceById.values()) {
    const c = findCopy(byPersistentId, s);
    if (c !== undefined) lastCopy.set(groupKey(s), { source: s, copy: c });
  }
  const seeded = new Set<string>();

  let done = 0;
  for (const sn of unique) {
    throwIfAborted(opts.signal);
    const report = () =>
      opts.onProgress?.({
        snapshot: sn.id,
        done,
        total: unique.length,
        blobsRead: copier.blobsRead,
        bytesRead: copier.bytesRead,
      });
    const earlier = findCopy(byPersistentId, sn);
    if (earlier !== undefined) {
      result.skipped.push({ source: sn.id, destination: earlier.id });
      done++;
      report();
      continue;
    }
    report();
    copier.onBlob = report;
    const group = groupKey(sn);
    const pair = lastCopy.get(group);
    if (pair !== undefined && !seeded.has(pair.copy.id)) {
      seeded.add(pair.copy.id);
      await copier.seed(pair.source.tree, pair.copy.tree);
    }
    copier.snapshot = sn.id;
    const tree = await copier.copyTree(sn.tree);
    await dst.flush(); // packs and index first: a snapshot must never name blobs the index lacks
    const { id, parent: _parent, ...rest } = sn;
    const copy: Snapshot = { ...rest, tree, original: persistentId(sn) };
    const newId = await saveSnapshot(dst, copy);
    const stored: StoredSnapshot = { ...copy, id: newId };
    const list = byPersistentId.get(persistentId(sn)) ?? [];
    list.push(stored);
    byPersistentId.set(persistentId(sn), list);
    lastCopy.set(group, { source: sn, copy: stored });
    seeded.add(newId); // everything in it is in the id map already
    result.copied.push({ source: id, destination: newId });
    done++;
    report();
  }
  result.dataBlobsAdded = copier.dataBlobsAdded;
  result.treeBlobsAdded = copier.treeBlobsAdded;
  result.dataBytesAdded = copier.dataBytesAdded;
  result.blobsRead = copier.blobsRead;
  result.bytesRead = copier.bytesRead;
  result.warnings = copier.warnings;
  return result;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RepoError('INTERRUPTED', 'interrupted', {}, { cause: signal.reason });
}

/** The per-run state of a copy: source → destination id maps and counters. */
class Copier {
  /** Source tree id → destination tree id (or the copy in progress). */
  private readonly trees = new Map<string, string | Promise<string>>();
  /** Source data blob id → destination id (or the copy in progress). */
  private readonly data = new Map<string, string | Promise<string>>();
  private readonly sem: Semaphore;
  /** Source file content (its blob ids joined) → destination content, when re-chunking. */
  private readonly files = new Map<string, string[] | Promise<string[]>>();
  /** Files re-chunked at once: each holds a chunker window (a few MiB). */
  private readonly fileSem = new Semaphore(2);
  /** Both repositories hash blobs with the same id key: ids carry over unchanged. */
  private readonly sameIdKey: boolean;
  /** Called after each data blob read from the source (progress). */
  onBlob: () => void = () => undefined;
  dataBlobsAdded = 0;
  treeBlobsAdded = 0;
  dataBytesAdded = 0;
  blobsRead = 0;
  bytesRead = 0;
  warnings = 0;
  /** The snapshot being copied, for warnings. */
  snapshot = '';

  constructor(
    private readonly src: CopySource,
    private readonly dst: CopyDestination,
    private readonly opts: CopyOptions,
  ) {
    const c = opts.concurrency ?? 8;
    if (!Number.isInteger(c) || c < 1)
      throw new RepoError('INVALID_ARGUMENT', 'copy concurrency must be a positive integer');
    this.sem = new Semaphore(c);
    this.sameIdKey = timingSafeEqual(src.key.idKey, dst.key.idKey);
  }

  /** The destination id of a source tree, copying it (and everything below it) if needed. */
  copyTree(srcTree: string): Promise<string> {
    const known = this.trees.get(srcTree);
    if (known !== undefined) return Promise.resolve(known);
    const p = this.copyTreeNow(srcTree);
    this.trees.set(srcTree, p);
    p.then(
      (v) => this.trees.set(srcTree, v),
      () => this.trees.delete(srcTree),
    );
    return p;
  }

  /**
   * Copies one tree. Nodes are copied as they are, faults and all (readers of the destination apply
   * tree/validate.ts just as readers of the source do), except nodes whose name occurs twice: the format
   * cannot encode them and every reader refuses all of them, so they are left out, each with a warning,
   * and the copy reads exactly as the source does.
   */
  private async copyTreeNow(srcTree: string): Promise<string> {
    throwIfAborted(this.opts.signal);
    const loaded = await loadTree(this.src, srcTree);
    const duplicates = treeFaults(loaded, srcTree).filter((f) => f.kind === 'duplicate');
    const tree =
      duplicates.length === 0
        ? loaded
        : { nodes: loaded.nodes.filter((n) => !duplicates.some((f) => f.name.equals(n.name))) };
    for (const f of duplicates) {
      this.warnings++;
      this.opts.onWarning?.(
        `snapshot ${this.snapshot.slice(0, 8)} tree ${srcTree} node ${quoteName(f.name)}: ${f.message}, left out of the copy`,
      );
    }
    // The files of one directory are copied concurrently (bounded by the semaphore); subdirectories one
    // after the other, so that only one path of trees from the root is held in memory.
    const files = tree.nodes.map((n) =>
      n.type === 'file' && n.content !== undefined && n.content.length > 0
        ? this.opts.rechunk === true
          ? this.rechunkFile(n.content)
          : Promise.all(n.content.map((c) => this.copyData(c)))
        : undefined,
    );
    // Rejections are awaited below; a failure in one must not go unhandled while another is awaited.
    for (const f of files) f?.catch(() => undefined);
    const nodes: TreeNode[] = [];
    for (let i = 0; i < tree.nodes.length; i++) {
      const n = tree.nodes[i];
      if (n.type === 'dir' && n.subtree !== undefined) nodes.push({ ...n, subtree: await this.copyTree(n.subtree) });
      else if (files[i] !== undefined) nodes.push({ ...n, content: await files[i]! });
      else nodes.push(n);
    }
    const r = await saveTree(this.dst, nodes);
    if (!r.known) this.treeBlobsAdded++;
    return r.id;
  }

  /** A file's destination content when re-chunking: its source blobs streamed through the destination's chunker. */
  private rechunkFile(content: string[]): Promise<string[]> {
    const key = content.join(',');
    const known = this.files.get(key);
    if (known !== undefined) return Promise.resolve(known);
    const p = this.fileSem.run(async () => {
      const ids: string[] = [];
      for await (const chunk of this.dst.chunker.chunks(this.sourcePieces(content))) {
        const rawLength = chunk.length;
        const r = await this.dst.saveBlob('data', chunk, undefined, { donate: true });
        if (!r.known) {
          this.dataBlobsAdded++;
          this.dataBytesAdded += rawLength;
        }
        ids.push(idToHex(r.id));
      }
      return ids;
    });
    this.files.set(key, p);
    p.then(
      (v) => this.files.set(key, v),
      () => this.files.delete(key),
    );
    return p;
  }

  /** A file's plaintext, blob by blob, from the source. */
  private async *sourcePieces(content: string[]): AsyncGenerator<Buffer> {
    for (const c of content) {
      throwIfAborted(this.opts.signal);
      const plain = await this.sem.run(() => this.src.loadBlob('data', idFromHex(c)));
      this.blobsRead++;
      this.bytesRead += plain.length;
      this.onBlob();
      yield plain;
    }
  }

  /** The destination id of a source data blob, copying the blob if the destination lacks it. */
  private copyData(srcId: string): Promise<string> {
    const known = this.data.get(srcId);
    if (known !== undefined) return Promise.resolve(known);
    const p = this.sem.run(async () => {
      throwIfAborted(this.opts.signal);
      const id = idFromHex(srcId);
      if (this.sameIdKey && this.dst.hasBlob('data', id)) return srcId;
      const plain = await this.src.loadBlob('data', id);
      this.blobsRead++;
      this.bytesRead += plain.length;
      this.onBlob();
      const dstId = this.sameIdKey ? id : this.dst.blobId(plain);
      const rawLength = plain.length;
      // The plaintext is not used again: the destination may move it to a seal worker instead of copying it.
      const r = await this.dst.saveBlob('data', plain, dstId, { donate: true });
      if (!r.known) {
        this.dataBlobsAdded++;
        this.dataBytesAdded += rawLength;
      }
      return idToHex(dstId);
    });
    this.data.set(srcId, p);
    p.then(
      (v) => this.data.set(srcId, v),
      () => this.data.delete(srcId),
    );
    return p;
  }

  /**
   * Fills the id maps from an earlier copy: walks a source tree and the destination tree copied from it side
   * by side. Copies keep every node, so names, types, sizes and content lengths agree node by node; where
   * they do not (the pair is not what it claims), that subtree is simply left out of the maps. Destination
   * ids are taken only for blobs the destination's index has.
   */
  async seed(srcTree: string, dstTree: string): Promise<void> {
    if (this.trees.has(srcTree)) return;
    throwIfAborted(this.opts.signal);
    let a: TreeNode[];
    let b: TreeNode[];
    try {
      [a, b] = await Promise.all([
        loadTree(this.src, srcTree).then((t) => t.nodes),
        loadTree(this.dst, dstTree).then((t) => t.nodes),
      ]);
    } catch {
      return; // unreadable: nothing to learn here, the copy itself will report real damage
    }
    if (a.length !== b.length) return;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      if (
        !x.name.equals(y.name) ||
        x.type !== y.type ||
        x.size !== y.size ||
        x.error !== undefined ||
        y.error !== undefined
      )
        return;
      if (
        (this.opts.rechunk !== true && (x.content?.length ?? 0) !== (y.content?.length ?? 0)) ||
        (x.subtree === undefined) !== (y.subtree === undefined)
      )
        return;
    }
    this.trees.set(srcTree, dstTree);
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const y = b[i];
      if (this.opts.rechunk === true && x.content !== undefined && y.content !== undefined) {
        // Re-chunked files map whole: same name and size in a copy of the same snapshot series.
        if (y.content.every((c) => this.dst.hasBlob('data', idFromHex(c))))
          this.files.set(x.content.join(','), y.content);
      } else if (x.content !== undefined && y.content !== undefined) {
        for (let k = 0; k < x.content.length; k++) {
          if (!this.data.has(x.content[k]) && this.dst.hasBlob('data', idFromHex(y.content[k])))
            this.data.set(x.content[k], y.content[k]);
        }
      }
      if (x.subtree !== undefined && y.subtree !== undefined) await this.seed(x.subtree, y.subtree);
    }
  }
}
