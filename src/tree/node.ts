// Tree nodes: one entry of a directory with its metadata and content references (spec §9).
// Names and link targets are raw bytes, because file systems allow names that are not UTF-8.

export type NodeType = 'file' | 'dir' | 'symlink' | 'blockdev' | 'chardev' | 'fifo' | 'socket';

export const NODE_TYPES: readonly NodeType[] = ['file', 'dir', 'symlink', 'blockdev', 'chardev', 'fifo', 'socket'];

export interface TreeNode {
  name: Buffer;
  type: NodeType;
  mode: number; // st_mode & 0o7777
  mtime: string;
  atime?: string; // omitted for directories: listing a directory for backup changes it
  ctime: string;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  inode?: string;
  deviceId?: string;
  links?: number;
  size?: number;
  linktarget?: Buffer;
  rdev?: string;
  content?: string[]; // hex data blob ids
  subtree?: string; // hex tree blob id
  error?: string;
}

/** Names a restorer may create: not empty, not "." or "..", no "/" and no NUL (spec §9). */
export function isSafeName(name: Uint8Array): boolean {
  if (name.length === 0) return false;
  if (name.length === 1 && name[0] === 0x2e) return false;
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return false;
  for (const c of name) if (c === 0x2f || c === 0) return false;
  return true;
}

export function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/** A printable form of a name for messages and listings (invalid UTF-8 shown with replacement characters). */
export function displayName(b: Buffer): string {
  return b.toString('utf8');
}
