// Backup of file system paths or a stream into a snapshot: walk, chunk, store blobs, build trees bottom-up.
// It never modifies the source, and it saves a snapshot only after every blob it references is stored and indexed.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Semaphore } from '../core/concurrency.js';
import { crashPoint } from '../core/crash-point.js';
import { RepoError } from '../core/errors.js';
import { FULL_LAYOUT, saveSnapshot, type Snapshot } from '../snapshot/snapshot.js';
import type { TreeNode } from '../tree/node.js';
import { saveTree } from '../tree/tree-store.js';
import { nsToRfc3339, toLocalRfc3339 } from '../tree/time.js';
import { DirCache } from './dir-cache.js';
import { compileExcluder } from './exclude-fs.js';
import { storeChunks } from './file-reader.js';
import { OwnerNames } from './metadata.js';
import { ParentTrees } from './parent.js';
import { ProgressTracker } from './progress.js';
import {
  checkAbort,
  describeFsError,
  emptySummary,
  type ArchiverRepo,
  type BackupOptions,
  type SourceWarning,
  type WalkState,
} from './state.js';
import { plannedEntries } from './root.js';
import { expandTargets, planRoot, type TargetNode } from './targets.js';

import { PROGRAM_VERSION } from '../core/version.js';
export { PROGRAM_VERSION };

export interface BackupResult {
  snapshotId?: string; // absent on a dry run
  snapshot: Snapshot;
  warnings: SourceWarning[];
}

export async function backupPaths(
  repo: ArchiverRepo,
  paths: string[],
  opts: BackupOptions = {},
): Promise<BackupResult> {
  opts.prefetch?.stop(); // from here on the walk lists directories itself (taking what was listed ahead)
  if (paths.length === 0) throw new RepoError('INVALID_ARGUMENT', 'no paths to back up');
  const cwd = process.cwd();
  const abs = [...new Set(paths.map((p) => path.resolve(p)))];
  let plan: TargetNode;
  try {
    plan = planRoot(expandTargets(paths, cwd), cwd);
  } catch (err) {
    const p = (err as NodeJS.ErrnoException).path ?? paths.join(' ');
    throw new RepoError('SOURCE', `cannot back up ${p}: ${describeFsError(err)}`, { path: p }, { cause: err });
  }
  // Every target is looked at before anything is stored: a missing one fails the backup at once.
  const stats = new Map<string, BigIntStats>();
  for (const p of targetsOf(plan)) {
    try {
      stats.set(p, await fs.promises.lstat(p, { bigint: true }));
    } catch (err) {
      throw new RepoError('SOURCE', `cannot back up ${p}: ${describeFsError(err)}`, { path: p }, { cause: err });
    }
  }
  const state = newState(repo, opts);
  state.dirCache = openDirCache(repo, opts);
  state.progress.startScan(abs, opts, opts.signal);
  try {
    const started = new Date();
    const parent = await ParentTrees.open(repo, opts.parent);
    const nodes = await plannedEntries({ state, parent, stats }, plan, parent.root);
    refuseIfNothingRead(state);
    const root = await saveTree(repo, nodes);
    if (!root.known) state.summary.tree_blobs++;
    return await finish(state, {
      tree: root.id,
      paths: abs,
      started,
      excludes: (opts.excludes ?? []).map((e) => e.pattern),
    });
  } finally {
    state.progress.stop(); // a failed backup leaves no scan or timer behind
  }
}

/**
 * Deliberately unlike restic (which saves a snapshot of bare directories and exits 3): when files were skipped and
 * not one file could be read, no snapshot is saved. An empty snapshot would look like a fresh backup to `status`
 * and, counted by `forget --keep-last`, could push a real one out of the retention window.
 */
function refuseIfNothingRead(state: WalkState): void {
  const s = state.summary;
  const skipped = state.warnings.filter((w) => w.skipped);
  if (skipped.length === 0 || s.files_new + s.files_changed + s.files_unmodified > 0) return;
  const first = skipped[0];
  throw new RepoError(
    'SOURCE',
    `no source file could be read (${skipped.length} skipped; first ${first.path}: ${first.message}); no snapshot was saved`,
    { path: first.path },
  );
}

function targetsOf(n: TargetNode, out: string[] = []): string[] {
  if (n.source !== undefined) out.push(n.source);
  for (const c of n.children.values()) targetsOf(c, out);
  return out;
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
  state.summary.total_bytes_processed += size;
  const root = await saveTree(repo, [node]);
  if (!root.known) state.summary.tree_blobs++;
  return finish(state, { tree: root.id, paths: ['/' + filename], started, excludes: [] });
}

/**
 * Small files handed to the workers at once: enough for full batches on every worker while the main
 * thread walks on; each holds at most SMALL_FILE bytes (plus its sealed copy) while in flight.
 */
const SMALL_FILES_IN_FLIGHT = 64;

function newState(repo: ArchiverRepo, opts: BackupOptions): WalkState {
  return {
    repo,
    chunker: repo.chunker,
    excluded: compileExcluder(opts, (p, message) => opts.onWarning?.({ path: p, message, skipped: false })),
    owners: new OwnerNames(),
    files: new Semaphore(opts.concurrency ?? 4),
    largeFiles: new Semaphore(Math.min(2, opts.concurrency ?? 2)),
    smallFiles: new Semaphore(SMALL_FILES_IN_FLIGHT),
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
  if (opts.summaryExtra) Object.assign(summary, await opts.summaryExtra());
  const info = os.userInfo();
  // As restic: a snapshot is dated when its backup started, the moment its contents are closest to.
  const time = opts.time ?? s.started;
  const sn: Snapshot = {
    time: toLocalRfc3339(BigInt(time.getTime()) * 1_000_000n),
    tree: s.tree,
    paths: s.paths,
    tree_layout: FULL_LAYOUT,
    hostname: opts.host ?? os.hostname(),
    username: info.username,
    uid: info.uid,
    gid: info.gid,
    tags: [...new Set(opts.tags ?? [])],
    program_version: PROGRAM_VERSION,
    summary,
  };
  if (opts.parent) sn.parent = opts.parent.id;
  if (s.excludes.length > 0) sn.excludes = s.excludes;
  state.progress.finish();
  if (opts.dryRun) return { snapshot: sn, warnings: state.warnings };
  crashPoint('before-snapshot-write'); // test-only (core/crash-point.ts)
  const snapshotId = await saveSnapshot(repo, sn);
  crashPoint('after-snapshot-write');
  try {
    state.dirCache?.save(opts.dirCacheDir!, snapshotId, opts.parent?.id);
  } catch {
    // only a cache: the next backup compares trees the slow way
  }
  return { snapshotId, snapshot: sn, warnings: state.warnings };
}

/** The directory cache this backup reads (the parent's record) and writes, if it may use one. */
function openDirCache(repo: ArchiverRepo, opts: BackupOptions): DirCache | undefined {
  if (opts.dirCacheDir === undefined || opts.force || opts.ignoreCtime || opts.ignoreInode) return undefined;
  const hash = (data: Uint8Array) => repo.blobId(data);
  return opts.parent ? DirCache.load(opts.dirCacheDir, opts.parent.id, hash) : DirCache.empty(hash);
}
