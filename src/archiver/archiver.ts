// Backup of file system paths into a snapshot: walk, chunk, store blobs, build trees bottom-up, save the snapshot.
// It never modifies the source, and it saves a snapshot only after every blob it references is stored and indexed.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Chunker } from '../chunker/chunker.js';
import { Semaphore } from '../core/concurrency.js';
import { RepoError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { saveSnapshot, type Snapshot, type SnapshotSummary } from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { saveTree } from '../tree/tree-store.js';
import { nsToRfc3339, toLocalRfc3339 } from '../tree/time.js';
import { compileRules, type ExcludeRule, type PathMatcher } from './exclude.js';
import { nodeFromStat, nodeTypeOf, OwnerNames } from './metadata.js';
import { ProgressTracker, type BackupProgress } from './progress.js';

export const PROGRAM_VERSION = 'repo 0.1.0';

export type ArchiverRepo = Pick<Repository, 'saveBlob' | 'flush' | 'chunker' | 'stats' | 'saveUnpacked' | 'loadUnpacked' | 'listNames'>;

export interface SourceWarning {
  path: string;
  message: string;
  /** true when the file or directory could not be backed up at all (the CLI exits 3). */
  skipped: boolean;
}

export interface BackupOptions {
  tags?: string[];
  host?: string;
  /** Snapshot time; default now. */
  time?: Date;
  excludes?: ExcludeRule[];
  oneFileSystem?: boolean;
  /** Read and chunk everything, store nothing, save no snapshot. */
  dryRun?: boolean;
  /** Files read at once. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  onWarning?: (w: SourceWarning) => void;
}

export interface BackupResult {
  snapshotId?: string; // absent on a dry run
  snapshot: Snapshot;
  warnings: SourceWarning[];
}

interface WalkState {
  repo: ArchiverRepo;
  chunker: Chunker;
  excluded: PathMatcher;
  owners: OwnerNames;
  files: Semaphore;
  progress: ProgressTracker;
  warnings: SourceWarning[];
  opts: BackupOptions;
  hardlinks: Map<string, Promise<{ content: string[]; size: number }>>;
  summary: SnapshotSummary;
}

export async function backupPaths(repo: ArchiverRepo, paths: string[], opts: BackupOptions = {}): Promise<BackupResult> {
  if (paths.length === 0) throw new RepoError('INVALID_ARGUMENT', 'no paths to back up');
  const abs = [...new Set(paths.map((p) => path.resolve(p)))];
  const roots: { abs: string; st: BigIntStats }[] = [];
  for (const p of abs) {
    try {
      roots.push({ abs: p, st: await fs.promises.lstat(p, { bigint: true }) });
    } catch (err) {
      throw new RepoError('SOURCE', `cannot back up ${p}: ${describeFsError(err)}`, { path: p }, { cause: err });
    }
  }
  const state = newState(repo, opts);
  state.progress.startScan(abs, opts.excludes ?? [], opts.signal);
  const started = new Date();
  const nodes: TreeNode[] = [];
  const used = new Set<string>();
  for (const r of roots) {
    const name = Buffer.from(uniqueName(path.basename(r.abs) || 'root', used));
    const node = await backupEntry(state, Buffer.from(r.abs), name, r.st, r.st.dev);
    if (node) nodes.push(node);
  }
  const root = await saveTree(repo, nodes);
  countTree(state.summary, root.known);
  return finish(state, { tree: root.id, paths: abs, started, excludes: (opts.excludes ?? []).map((e) => e.pattern) });
}

/** Backs up one stream (stdin or a command's output) as a single file named `filename`. */
export async function backupStream(
  repo: ArchiverRepo,
  source: AsyncIterable<Uint8Array>,
  filename: string,
  opts: BackupOptions = {},
): Promise<BackupResult> {
  if (!filename || filename.includes('/') || filename === '.' || filename === '..') {
    throw new RepoError('INVALID_ARGUMENT', `invalid --stdin-filename "${filename}"`);
  }
  const state = newState(repo, opts);
  const started = new Date();
  const { content, size } = await storeChunks(state, repo.chunker.chunks(source));
  const now = nsToRfc3339(BigInt(Date.now()) * 1_000_000n);
  const node: TreeNode = {
    name: Buffer.from(filename),
    type: 'file',
    mode: 0o644,
    mtime: now,
    atime: now,
    ctime: now,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    size,
    content,
  };
  state.summary.files_new++;
  state.summary.total_files_processed++;
  const root = await saveTree(repo, [node]);
  countTree(state.summary, root.known);
  return finish(state, { tree: root.id, paths: ['/' + filename], started, excludes: [] });
}

function newState(repo: ArchiverRepo, opts: BackupOptions): WalkState {
  return {
    repo,
    chunker: repo.chunker,
    excluded: compileRules(opts.excludes ?? []),
    owners: new OwnerNames(),
    files: new Semaphore(opts.concurrency ?? 4),
    progress: new ProgressTracker(opts.onProgress),
    warnings: [],
    opts,
    hardlinks: new Map(),
    summary: emptySummary(),
  };
}

async function finish(
  state: WalkState,
  s: { tree: string; paths: string[]; started: Date; excludes: string[] },
): Promise<BackupResult> {
  const { repo, opts, summary } = state;
  checkAbort(opts.signal);
  await repo.flush(); // every blob the snapshot references is stored and indexed before the snapshot exists
  summary.backup_start = s.started.toISOString();
  summary.backup_end = new Date().toISOString();
  summary.data_added = repo.stats.rawBytesAdded;
  summary.data_added_packed = repo.stats.storedBytesAdded;
  const info = os.userInfo();
  const time = opts.time ?? new Date();
  const sn: Snapshot = {
    time: toLocalRfc3339(BigInt(time.getTime()) * 1_000_000n),
    tree: s.tree,
    paths: s.paths,
    hostname: opts.host ?? os.hostname(),
    username: info.username,
    uid: info.uid,
    gid: info.gid,
    tags: [...new Set(opts.tags ?? [])],
    excludes: s.excludes.length > 0 ? s.excludes : undefined,
    program_version: PROGRAM_VERSION,
    summary,
  };
  if (sn.excludes === undefined) delete sn.excludes;
  state.progress.finish();
  if (opts.dryRun) return { snapshot: sn, warnings: state.warnings };
  const snapshotId = await saveSnapshot(repo, sn);
  return { snapshotId, snapshot: sn, warnings: state.warnings };
}

async function backupEntry(state: WalkState, abs: Buffer, name: Buffer, st: BigIntStats, rootDev: bigint): Promise<TreeNode | undefined> {
  checkAbort(state.opts.signal);
  const type = nodeTypeOf(st);
  if (!type) return undefined;
  const node = nodeFromStat(name, st, type, state.owners);
  switch (type) {
    case 'dir':
      return backupDir(state, abs, node, rootDev);
    case 'file':
      return backupFile(state, abs, node, st);
    case 'symlink':
      try {
        node.linktarget = await fs.promises.readlink(abs, { encoding: 'buffer' });
      } catch (err) {
        warn(state, abs, `cannot read symlink: ${describeFsError(err)}`, true);
        return undefined;
      }
      return node;
    default:
      return node;
  }
}

async function backupDir(state: WalkState, abs: Buffer, node: TreeNode, rootDev: bigint): Promise<TreeNode | undefined> {
  let names: Buffer[];
  try {
    names = await fs.promises.readdir(abs, { encoding: 'buffer' });
  } catch (err) {
    warn(state, abs, `cannot read directory: ${describeFsError(err)}`, true);
    return undefined;
  }
  const children = await Promise.all(
    names.map(async (child) => {
      const childAbs = Buffer.concat([abs, abs[abs.length - 1] === 0x2f ? Buffer.alloc(0) : SLASH, child]);
      if (state.excluded(childAbs.toString('utf8'))) return undefined;
      let st: BigIntStats;
      try {
        st = await fs.promises.lstat(childAbs, { bigint: true });
      } catch (err) {
        warn(state, childAbs, `cannot stat: ${describeFsError(err)}`, true);
        return undefined;
      }
      if (state.opts.oneFileSystem && st.isDirectory() && st.dev !== rootDev) return undefined;
      return backupEntry(state, childAbs, child, st, rootDev);
    }),
  );
  const tree = await saveTree(state.repo, children.filter((c): c is TreeNode => c !== undefined));
  countTree(state.summary, tree.known);
  state.summary.dirs_new++;
  state.progress.dirDone();
  node.subtree = tree.id;
  return node;
}

async function backupFile(state: WalkState, abs: Buffer, node: TreeNode, st: BigIntStats): Promise<TreeNode | undefined> {
  const linkKey = st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
  const shared = linkKey ? state.hardlinks.get(linkKey) : undefined;
  if (shared) {
    const r = await shared.catch(() => undefined);
    if (r) {
      Object.assign(node, r);
      state.summary.files_new++;
      state.summary.total_files_processed++;
      return node;
    }
  }
  const work = state.files.run(() => readFile(state, abs, st));
  if (linkKey) state.hardlinks.set(linkKey, work.then((r) => r ?? Promise.reject(new Error('unreadable'))));
  const r = await work;
  if (!r) return undefined;
  node.content = r.content;
  node.size = r.size;
  state.summary.files_new++;
  state.summary.total_files_processed++;
  state.summary.total_bytes_processed += r.size;
  state.progress.fileDone();
  return node;
}

async function readFile(state: WalkState, abs: Buffer, before: BigIntStats): Promise<{ content: string[]; size: number } | undefined> {
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

async function storeChunks(state: WalkState, chunks: AsyncIterable<Buffer>): Promise<{ content: string[]; size: number }> {
  const content: string[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    checkAbort(state.opts.signal);
    const r = await state.repo.saveBlob('data', chunk);
    content.push(idToHex(r.id));
    size += chunk.length;
    if (!r.known) state.summary.data_blobs++;
  }
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

function countTree(summary: SnapshotSummary, known: boolean): void {
  if (!known) summary.tree_blobs++;
}

function warn(state: WalkState, abs: Buffer, message: string, skipped: boolean): void {
  const w = { path: abs.toString('utf8'), message, skipped };
  state.warnings.push(w);
  state.opts.onWarning?.(w);
}

function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new RepoError('INTERRUPTED', 'backup interrupted; no snapshot was saved');
}

function uniqueName(base: string, used: Set<string>): string {
  let name = base;
  for (let i = 1; used.has(name); i++) name = `${base}-${i}`;
  used.add(name);
  return name;
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'is a symbolic link';
    case 'EIO':
      return 'input/output error';
    default:
      return e?.message ?? String(err);
  }
}

function emptySummary(): SnapshotSummary {
  return {
    backup_start: '',
    backup_end: '',
    files_new: 0,
    files_changed: 0,
    files_unmodified: 0,
    dirs_new: 0,
    dirs_changed: 0,
    dirs_unmodified: 0,
    data_blobs: 0,
    tree_blobs: 0,
    data_added: 0,
    data_added_packed: 0,
    total_files_processed: 0,
    total_bytes_processed: 0,
  };
}

const SLASH = Buffer.from('/');
