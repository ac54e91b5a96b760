// Deterministic encoding of tree blobs: the same directory content always yields the same bytes and id.
// Decoding treats the plaintext as untrusted: types are checked, unknown members ignored.

import { FormatError } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import { NODE_TYPES, isUtf8, type TreeNode } from './node.js';

export interface Tree {
  nodes: TreeNode[];
}

export function compareNames(a: TreeNode, b: TreeNode): number {
  return Buffer.compare(a.name, b.name);
}

/** Serializes nodes sorted by name bytes with members in the order spec §9 lists them. */
export function encodeTree(nodes: TreeNode[]): Buffer {
  const sorted = [...nodes].sort(compareNames);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1].name.equals(sorted[i].name))
      throw new RangeError(`duplicate name in tree: ${sorted[i].name.toString()}`);
  }
  return Buffer.from(JSON.stringify({ nodes: sorted.map(nodeToJson) }), 'utf8');
}

function nodeToJson(n: TreeNode): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (isUtf8(n.name)) o.name = n.name.toString('utf8');
  else o.name_raw = n.name.toString('base64');
  o.type = n.type;
  o.mode = n.mode;
  o.mtime = n.mtime;
  if (n.atime !== undefined) o.atime = n.atime;
  o.ctime = n.ctime;
  o.uid = n.uid;
  o.gid = n.gid;
  if (n.user !== undefined) o.user = n.user;
  if (n.group !== undefined) o.group = n.group;
  if (n.inode !== undefined) o.inode = n.inode;
  if (n.deviceId !== undefined) o.device_id = n.deviceId;
  if (n.links !== undefined) o.links = n.links;
  if (n.size !== undefined) o.size = n.size;
  if (n.linktarget !== undefined) {
    if (isUtf8(n.linktarget)) o.linktarget = n.linktarget.toString('utf8');
    else o.linktarget_raw = n.linktarget.toString('base64');
  }
  if (n.rdev !== undefined) o.rdev = n.rdev;
  if (n.content !== undefined) o.content = n.content;
  if (n.subtree !== undefined) o.subtree = n.subtree;
  if (n.error !== undefined) o.error = n.error;
  return o;
}

export function decodeTree(plain: Buffer, treeId: string): Tree {
  const ctx = { tree: treeId };
  let j: unknown;
  try {
    j = JSON.parse(plain.toString('utf8'));
  } catch (err) {
    throw new FormatError(`tree ${treeId} is not valid JSON`, ctx, { cause: err });
  }
  const nodes = (j as { nodes?: unknown })?.nodes;
  if (!Array.isArray(nodes)) throw new FormatError(`tree ${treeId} has no node list`, ctx);
  return { nodes: nodes.map((n) => nodeFromJson(n, treeId)) };
}

function nodeFromJson(o: any, treeId: string): TreeNode {
  const bad = (what: string) => new FormatError(`tree ${treeId} has a node with ${what}`, { tree: treeId });
  if (typeof o !== 'object' || o === null) throw bad('a non-object entry');
  let name: Buffer;
  if (typeof o.name === 'string') name = Buffer.from(o.name, 'utf8');
  else if (typeof o.name_raw === 'string') name = Buffer.from(o.name_raw, 'base64');
  else throw bad('no name');
  if (!NODE_TYPES.includes(o.type)) throw bad(`unknown type ${JSON.stringify(o.type)}`);
  const num = (v: unknown, what: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`an invalid ${what}`);
    return v;
  };
  const str = (v: unknown, what: string) => {
    if (typeof v !== 'string') throw bad(`an invalid ${what}`);
    return v;
  };
  const n: TreeNode = {
    name,
    type: o.type,
    mode: num(o.mode, 'mode'),
    mtime: o.mtime === undefined ? '1970-01-01T00:00:00.000000000Z' : str(o.mtime, 'mtime'),
    ctime: o.ctime === undefined ? '1970-01-01T00:00:00.000000000Z' : str(o.ctime, 'ctime'),
    uid: num(o.uid ?? 0, 'uid'),
    gid: num(o.gid ?? 0, 'gid'),
  };
  // Members are only ever added, never added as undefined and deleted: a deleted property turns a node into
  // a slow dictionary object, and every reader of a large snapshot touches every node.
  if (o.atime !== undefined) n.atime = str(o.atime, 'atime');
  if (o.user !== undefined) n.user = str(o.user, 'user');
  if (o.group !== undefined) n.group = str(o.group, 'group');
  if (o.inode !== undefined) n.inode = str(o.inode, 'inode');
  if (o.device_id !== undefined) n.deviceId = str(o.device_id, 'device_id');
  if (o.links !== undefined) n.links = num(o.links, 'link count');
  if (o.size !== undefined) n.size = num(o.size, 'size');
  if (typeof o.linktarget === 'string') n.linktarget = Buffer.from(o.linktarget, 'utf8');
  else if (typeof o.linktarget_raw === 'string') n.linktarget = Buffer.from(o.linktarget_raw, 'base64');
  if (o.rdev !== undefined) n.rdev = str(o.rdev, 'rdev');
  if (o.content !== undefined) {
    if (!Array.isArray(o.content) || !o.content.every((c: unknown) => typeof c === 'string' && isIdHex(c)))
      throw bad('an invalid content list');
    n.content = o.content;
  } else if (n.type === 'file') n.content = [];
  if (o.subtree !== undefined) {
    if (typeof o.subtree !== 'string' || !isIdHex(o.subtree)) throw bad('an invalid subtree id');
    n.subtree = o.subtree;
  }
  if (o.error !== undefined) n.error = str(o.error, 'error');
  if (n.type === 'dir' && n.subtree === undefined) throw bad('a directory without subtree');
  return n;
}
