// The recursive part of a backup: one directory entry at a time, compared with the parent snapshot's node.
// Directories are finished bottom-up, so a tree is saved only after everything it references.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import type { TreeNode } from '../tree/node.js';
import { saveTree } from '../tree/tree-store.js';
import { mapLimit } from '../core/concurrency.js';
import { readFile, readSmallFile, SMALL_FILE } from './file-reader.js';
import { nodeFromStat, nodeTypeOf } from './metadata.js';
import { fileUnchanged, parentChildren, sameNodes } from './parent.js';
import { checkAbort, describeFsError, warn, type WalkState } from './state.js';

const SLASH = Buffer.from('/');
const LARGE_FILE = 8n * 1024n * 1024n;
const DIR_CONCURRENCY = 2;

/** Backs up one entry; `old` is the parent snapshot's node of the same name, if any. */
export async function backupEntry(state: WalkState, abs: Buffer, name: Buffer, st: BigIntStats, rootDev: bigint, old?: TreeNode): Promise<TreeNode | undefined> {
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

async function backupDir(state: WalkState, abs: Buffer, node: TreeNode, rootDev: bigint, old?: TreeNode): Promise<TreeNode | undefined> {
  let names: Buffer[];
  try {
    names = fs.readdirSync(abs, { encoding: 'buffer' }); // synchronous for the same reason as lstat below
  } catch (err) {
    warn(state, abs, `cannot read directory: ${describeFsError(err)}`, true);
    return undefined;
  }
  const parentTree = old?.type === 'dir' ? old.subtree : undefined;
  const before = await parentChildren(state.repo, parentTree);
  // Memory must not grow with the size of the tree: only two subdirectories of each directory are walked
  // at once (unbounded fan-out once held the whole kernel tree in flight). Files start at once; the file
  // semaphores bound how many are read.
  interface Entry {
    child: Buffer;
    childAbs: Buffer;
    st: BigIntStats;
  }
  // lstat is synchronous on purpose: a promise per entry through the thread pool cost the main thread
  // about 15 µs each (1.2 s for the kernel's 84k entries) against 3 µs for the plain system call, and even
  // from a cold cache the whole kernel tree stats in under a second.
  const entries: (Entry | undefined)[] = names.map((child) => {
    const childAbs = Buffer.concat([abs, abs[abs.length - 1] === 0x2f ? Buffer.alloc(0) : SLASH, child]);
    if (state.excluded(childAbs.toString('utf8'))) return undefined;
    try {
      return { child, childAbs, st: fs.lstatSync(childAbs, { bigint: true }) };
    } catch (err) {
      warn(state, childAbs, `cannot stat: ${describeFsError(err)}`, true);
      return undefined;
    }
  });
  const visit = (e: Entry) =>
    backupEntry(state, e.childAbs, e.child, e.st, rootDev, before.get(e.child.toString('hex')));
  const present = entries.filter((e): e is Entry => e !== undefined);
  const dirs = present.filter((e) => e.st.isDirectory() && !(state.opts.oneFileSystem && e.st.dev !== rootDev));
  const others = present.filter((e) => !e.st.isDirectory());
  const otherNodes = Promise.all(others.map(visit));
  otherNodes.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
  const dirNodes = await mapLimit(dirs, DIR_CONCURRENCY, visit);
  const children = [...dirNodes, ...(await otherNodes)];
  const nodes = children.filter((c): c is TreeNode => c !== undefined);
  state.progress.dirDone();
  // An unchanged directory keeps its parent's tree id: nothing is serialized or stored again.
  if (parentTree && state.repo.hasBlob('tree', Buffer.from(parentTree, 'hex')) && sameNodes(nodes, [...before.values()])) {
    state.summary.dirs_unmodified++;
    node.subtree = parentTree;
    return node;
  }
  const tree = await saveTree(state.repo, nodes);
  if (!tree.known) state.summary.tree_blobs++;
  if (old) state.summary.dirs_changed++;
  else state.summary.dirs_new++;
  node.subtree = tree.id;
  return node;
}

async function backupFile(state: WalkState, abs: Buffer, node: TreeNode, st: BigIntStats, old?: TreeNode): Promise<TreeNode | undefined> {
  state.summary.total_files_processed++;
  if (fileUnchanged(state.repo, node, old, state.opts)) {
    // The parent's atime is kept: reading a file (a build, a scan, a cat) moves only its atime, and a
    // snapshot that recorded it would store a new tree for every directory read since (spec §9).
    if (old!.atime !== undefined) node.atime = old!.atime;
    else delete node.atime;
    node.content = old!.content;
    state.summary.files_unmodified++;
    state.summary.total_bytes_processed += node.size ?? 0;
    state.progress.fileSkipped(node.size ?? 0);
    return node;
  }
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
    if (linkKey && !shared) state.hardlinks.set(linkKey, work.then((x) => x ?? Promise.reject(new Error('unreadable'))));
    r = await work;
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
  return node;
}
