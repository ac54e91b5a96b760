// Reads a file system entry's metadata into a tree node (spec §9), with owner names from /etc/passwd and /etc/group.
// Reads only; never modifies the source.

import fs from 'node:fs';
import type { BigIntStats } from 'node:fs';
import type { NodeType, TreeNode } from '../tree/node.js';
import { nsToRfc3339 } from '../tree/time.js';

/**
 * The parts of an lstat result (with bigint: true) that a backup reads. A walk's own lstat gives a
 * BigIntStats; a listing made ahead (stat-prefetch.ts) gives a packed copy of the same fields.
 */
export type SourceStat = Pick<
  BigIntStats,
  | 'dev'
  | 'ino'
  | 'mode'
  | 'nlink'
  | 'uid'
  | 'gid'
  | 'rdev'
  | 'size'
  | 'atimeNs'
  | 'mtimeNs'
  | 'ctimeNs'
  | 'isFile'
  | 'isDirectory'
  | 'isSymbolicLink'
  | 'isFIFO'
  | 'isSocket'
  | 'isCharacterDevice'
  | 'isBlockDevice'
>;

export function nodeTypeOf(st: SourceStat | fs.Stats): NodeType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return undefined;
}

/** Owner names looked up once per process from the local account databases. */
export class OwnerNames {
  private users?: Map<number, string>;
  private groups?: Map<number, string>;

  user(uid: number): string | undefined {
    this.users ??= readIdFile('/etc/passwd');
    return this.users.get(uid);
  }

  group(gid: number): string | undefined {
    this.groups ??= readIdFile('/etc/group');
    return this.groups.get(gid);
  }
}

function readIdFile(path: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of fs.readFileSync(path, 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 3 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
    }
  } catch {
    // no account database (e.g. a minimal container): names stay unknown, numeric ids are kept
  }
  return m;
}

export function nodeFromStat(name: Buffer, st: SourceStat, type: NodeType, owners: OwnerNames): TreeNode {
  const uid = Number(st.uid);
  const gid = Number(st.gid);
  const n: TreeNode = {
    name,
    type,
    mode: Number(st.mode) & 0o7777,
    mtime: nsToRfc3339(st.mtimeNs),
    atime: nsToRfc3339(st.atimeNs),
    ctime: nsToRfc3339(st.ctimeNs),
    uid,
    gid,
    user: owners.user(uid),
    group: owners.group(gid),
    inode: st.ino.toString(),
    deviceId: st.dev.toString(),
    links: Number(st.nlink),
  };
  if (type === 'file') n.size = Number(st.size);
  if (type === 'blockdev' || type === 'chardev') n.rdev = st.rdev.toString();
  // Backing up a directory or symlink reads it (readdir, readlink), which updates its atime: recording
  // that would change every tree on every run.
  if (type === 'dir' || type === 'symlink') delete n.atime;
  for (const k of ['user', 'group'] as const) if (n[k] === undefined) delete n[k];
  return n;
}
