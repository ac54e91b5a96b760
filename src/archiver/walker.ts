// The recursive part of a backup: one directory entry at a time, compared with the parent snapshot's node.
// Directories are finished bottom-up, so a tree is saved only after everything it references.

import fs from 'node:fs';
import type { TreeNode } from '../tree/node.js';
import { saveTree } from '../tree/tree-store.js';
import { mapLimit } from '../core/concurrency.js';
import { readFile, readSmallFile, SMALL_FILE } from './file-reader.js';
import { nodeFromStat, nodeTypeOf, type SourceStat } from './metadata.js';
import { fingerprint, type StatEntry } from './dir-cache.js';
import { fileUnchanged, parentChildren, sameNodes } from './parent.js';
import { checkAbort, describeFsError, warn, type WalkState } from './state.js';
import { tooLarge } from './exclude-fs.js';
import { childPath } from './stat-prefetch.js';

const LARGE_FILE = 8n * 1024n * 1024n;
const DIR_CONCURRENCY = 2;

/** Backs up one entry; `old` is the parent snapshot's node of the same name, if any. */
export async function backupEntry(
  state: WalkState,
  abs: Buffer,
  name: Buffer,
  st: SourceStat,
  rootDev: bigint,
  old?: TreeNode,
): Promise<TreeNode | undefined> {
  checkAbort(state.opts.signal);
  const type = nodeTypeOf(st);
  if (!type) return undefined;
  const node = nodeFromStat(name, st, type, state.owners);
  switch (type) {
    case 'dir':
      return backupDir(state, abs, node, rootDev, old);
    case 'file':
      return backupFile(state, abs, node, st, old);
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

/** Whether a backup target itself is excluded: by its path, a tag file beside it or its size. */
export function excludedEntry(state: WalkState, abs: string, st: SourceStat): boolean {
  return state.excluded(abs) || tooLarge(st, state.opts.excludeLargerThan);
}

/** A directory entry as listed: its name, its full path and what lstat said. */
interface Entry extends StatEntry {
  childAbs: Buffer;
}

async function backupDir(
  state: WalkState,
  abs: Buffer,
  node: TreeNode,
  rootDev: bigint,
  old?: TreeNode,
): Promise<TreeNode | undefined> {
  const listed = state.opts.prefetch?.take(abs);
  let names: Buffer[];
  try {
    names = listed?.names ?? fs.readdirSync(abs, { encoding: 'buffer' }); // synchronous for the same reason as lstat below
  } catch (err) {
    warn(state, abs, `cannot read directory: ${describeFsError(err)}`, true);
    return undefined;
  }
  const cache = state.dirCache;
  const cached = cache?.lookup(abs);
  // The parent's tree of this directory: from the parent's node, or, under a directory the cache let go
  // unread, from the cache (the same snapshot recorded it).
  const parentTree = old?.type === 'dir' ? old.subtree : cached?.tree;
  const existed = old !== undefined || cached !== undefined;
  // lstat is synchronous on purpose: a promise per entry through the thread pool cost the main thread
  // about 15 µs each (1.2 s for the kernel's 84k entries) against 3 µs for the plain system call, and even
  // from a cold cache the whole kernel tree stats in under a second.
  const present: Entry[] = [];
  for (let i = 0; i < names.length; i++) {
    const child = names[i];
    const childAbs = childPath(abs, child);
    if (state.excluded(childAbs.toString('utf8'))) continue;
    try {
      const st = listed?.stat(i) ?? fs.lstatSync(childAbs, { bigint: true });
      if (!tooLarge(st, state.opts.excludeLargerThan)) present.push({ child, childAbs, st });
    } catch (err) {
      warn(state, childAbs, `cannot stat: ${describeFsError(err)}`, true);
    }
  }
  const dirs = present.filter((e) => e.st.isDirectory() && !(state.opts.oneFileSystem && e.st.dev !== rootDev));
  const others = present.filter((e) => !e.st.isDirectory());
  const filesPrint = cache ? fingerprint(state.repo.blobId.bind(state.repo), others) : undefined;
  // Memory must not grow with the size of the tree: only two subdirectories of each directory are walked
  // at once (unbounded fan-out once held the whole kernel tree in flight). Files start at once; the file
  // semaphores bound how many are read.
  let before: Map<string, TreeNode> | undefined;
  const visit = (e: Entry) =>
    backupEntry(state, e.childAbs, e.child, e.st, rootDev, before?.get(e.child.toString('hex')));
  let dirNodes: (TreeNode | undefined)[];
  let otherNodes: (TreeNode | undefined)[] | undefined;
  if (cached !== undefined && filesPrint!.equals(cached.files)) {
    // Nothing but subdirectories can have changed: walk them first, and if they come out as recorded
    // too, this directory's tree is the recorded one; its parent tree is never loaded.
    dirNodes = await mapLimit(dirs, DIR_CONCURRENCY, visit);
    const dirsPrint = subdirPrint(state, dirs, dirNodes);
    if (dirsPrint?.equals(cached.dirs) && state.repo.hasBlob('tree', Buffer.from(cached.tree, 'hex'))) {
      for (const e of others) if (e.st.isFile()) skippedFile(state, Number(e.st.size));
      cache!.record(abs, { files: filesPrint!, dirs: dirsPrint, tree: cached.tree });
      state.progress.dirDone();
      state.summary.dirs_unmodified++;
      node.subtree = cached.tree;
      return node;
    }
    before = await parentChildren(state.repo, parentTree);
    otherNodes = await Promise.all(others.map(visit));
  } else {
    before = await parentChildren(state.repo, parentTree);
    const pending = Promise.all(others.map(visit));
    pending.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    dirNodes = await mapLimit(dirs, DIR_CONCURRENCY, visit);
    otherNodes = await pending;
  }
  const nodes = [...dirNodes, ...otherNodes].filter((c): c is TreeNode => c !== undefined);
  state.progress.dirDone();
  await storeDirTree(state, node, nodes, parentTree, before, existed);
  if (state.opts.onItem !== undefined) reportDirItems(state, abs, nodes, before, existed, node.subtree !== parentTree);
  // Recorded only when every entry made it into the tree: a file skipped with a warning must be tried
  // (and warned about) again next time, not hidden behind a matching fingerprint.
  const dirsPrint =
    cache && otherNodes.every((n, i) => n !== undefined || nodeTypeOf(others[i].st) === undefined)
      ? subdirPrint(state, dirs, dirNodes)
      : undefined;
  if (dirsPrint) cache!.record(abs, { files: filesPrint!, dirs: dirsPrint, tree: node.subtree! });
  return node;
}

/** -v's list for one directory: the directory itself when new or changed, and the parent's entries that are gone. */
function reportDirItems(
  state: WalkState,
  abs: Buffer,
  nodes: TreeNode[],
  before: Map<string, TreeNode>,
  existed: boolean,
  changed: boolean,
): void {
  const onItem = state.opts.onItem!;
  const dir = abs.toString('utf8');
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  if (!existed) onItem({ action: 'new', path: prefix, type: 'dir' });
  else if (changed) onItem({ action: 'modified', path: prefix, type: 'dir' });
  if (before.size === 0) return;
  const present = new Set(nodes.map((n) => n.name.toString('hex')));
  for (const [key, old] of before) {
    if (present.has(key)) continue;
    const isDir = old.type === 'dir';
    onItem({
      action: 'removed',
      path: prefix + old.name.toString('utf8') + (isDir ? '/' : ''),
      type: isDir ? 'dir' : old.type === 'file' ? 'file' : 'other',
    });
  }
}

/** The fingerprint of the subdirectories with the tree ids they got, or undefined if one failed. */
function subdirPrint(state: WalkState, dirs: StatEntry[], nodes: (TreeNode | undefined)[]): Buffer | undefined {
  const subtrees: string[] = [];
  for (const n of nodes) {
    if (n?.subtree === undefined) return undefined;
    subtrees.push(n.subtree);
  }
  return fingerprint(state.repo.blobId.bind(state.repo), dirs, subtrees);
}

/** Counts a file the parent already holds unchanged. */
function skippedFile(state: WalkState, size: number): void {
  state.summary.total_files_processed++;
  state.summary.files_unmodified++;
  state.summary.total_bytes_processed += size;
  state.progress.fileSkipped(size);
}

async function backupFile(
  state: WalkState,
  abs: Buffer,
  node: TreeNode,
  st: SourceStat,
  old?: TreeNode,
): Promise<TreeNode | undefined> {
  if (fileUnchanged(state.repo, node, old, state.opts)) {
    // The parent's atime is kept: reading a file (a build, a scan, a cat) moves only its atime, and a
    // snapshot that recorded it would store a new tree for every directory read since (spec §9).
    if (old!.atime !== undefined) node.atime = old!.atime;
    else delete node.atime;
    node.content = old!.content;
    skippedFile(state, node.size ?? 0);
    return node;
  }
  state.summary.total_files_processed++;
  const began = Date.now();
  const linkKey = st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
  const shared = linkKey ? state.hardlinks.get(linkKey) : undefined;
  let r = shared ? await shared.catch(() => undefined) : undefined;
  if (!r) {
    // Large files hold a full chunker window each, so fewer of them are read at once than small ones.
    const read = () => readFile(state, abs, st);
    const work =
      st.size <= BigInt(SMALL_FILE) && state.repo.sealsFiles
        ? state.smallFiles.run(() => readSmallFile(state, abs, st))
        : state.files.run(() => (st.size >= LARGE_FILE ? state.largeFiles.run(read) : read()));
    if (linkKey && !shared)
      state.hardlinks.set(
        linkKey,
        work.then((x) => x ?? Promise.reject(new Error('unreadable'))),
      );
    const shown = state.progress.watched ? abs.toString('utf8') : '';
    state.progress.fileStarted(shown);
    try {
      r = await work;
    } finally {
      state.progress.fileEnded(shown);
    }
    if (!r) {
      state.summary.total_files_processed--;
      return undefined;
    }
    state.progress.fileDone();
  }
  node.content = r.content;
  node.size = r.size;
  if (old) state.summary.files_changed++;
  else state.summary.files_new++;
  state.summary.total_bytes_processed += r.size;
  state.opts.onItem?.({
    action: old ? 'modified' : 'new',
    path: abs.toString('utf8'),
    type: 'file',
    size: r.size,
    seconds: (Date.now() - began) / 1000,
  });
  return node;
}

/**
 * Sets a directory node's subtree from its entries, counting it as unmodified, changed or new. An unchanged
 * directory keeps its parent's tree id: nothing is serialized or stored again. Shared by the walker and the
 * directories on the way to the targets (root.ts).
 */
export async function storeDirTree(
  state: WalkState,
  node: TreeNode,
  nodes: TreeNode[],
  parentTree: string | undefined,
  before: Map<string, TreeNode>,
  existed: boolean,
): Promise<void> {
  if (
    parentTree &&
    state.repo.hasBlob('tree', Buffer.from(parentTree, 'hex')) &&
    sameNodes(nodes, [...before.values()])
  ) {
    state.summary.dirs_unmodified++;
    node.subtree = parentTree;
    return;
  }
  const tree = await saveTree(state.repo, nodes);
  if (!tree.known) state.summary.tree_blobs++;
  if (existed) state.summary.dirs_changed++;
  else state.summary.dirs_new++;
  node.subtree = tree.id;
}
