// One validation of tree nodes for every reader that turns a tree into paths (restore, dump, ls, find, diff,
// copy, check), so that what check passes is exactly what the readers accept (spec §9.1).
// Pure: looks only at the decoded tree it is given; never loads, never throws for a bad node.

import { displayName, isSafeName, type TreeNode } from './node.js';
import { rfc3339ToNs } from './time.js';
import type { Tree } from './tree.js';

/** Deepest directory nesting a reader follows (spec §9.1). PATH_MAX (4096) allows at most 2048 levels of one-byte names. */
export const MAX_DEPTH = 4096;
/** Most nodes one tree may hold before check reports it (spec §9.1). */
export const MAX_TREE_ENTRIES = 1_000_000;
/** Most entries (paths) a snapshot may expand to, counting every path through shared subtrees (spec §9.1). */
export const MAX_EXPANSION = 1_000_000_000;

/** The time a node gets when one of its own times is not RFC 3339 (spec §9.1). */
export const DEFAULT_TIME = '1970-01-01T00:00:00.000000000Z';

export type NodeFaultKind = 'name' | 'duplicate' | 'type' | 'metadata' | 'time';

/** Something wrong with one node of one tree. `refused` nodes are skipped by every reader; the others are read with defaults. */
export interface NodeFault {
  tree: string;
  /** The node's name as stored (may be unsafe; use displayName). */
  name: Buffer;
  kind: NodeFaultKind;
  message: string;
  refused: boolean;
}

/** A node's name for one-line messages: JSON-quoted, so NUL, newlines and slashes show. */
export function quoteName(name: Buffer): string {
  return JSON.stringify(displayName(name));
}

/** "tree <id> node <name>: <message>", the form every reader prints (the caller adds the snapshot). */
export function describeFault(f: NodeFault): string {
  return `tree ${f.tree} node ${quoteName(f.name)}: ${f.message}${f.refused ? ', refused' : ', read with defaults'}`;
}

const MAX_ID = 0xffffffff;

function isInt(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

// Fields in range, which rfc3339ToNs (through Date.UTC) does not insist on: it carries month 13 into the next year.
const FIELDS_RE = /^\d{4}-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/;

/** Two decimal digits at `at`, or -1. */
function two(t: string, at: number): number {
  const a = t.charCodeAt(at) - 48;
  const b = t.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** The form writers store ("YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ") with fields in range: three times per node, so no regex. */
function canonicalTime(t: string): boolean {
  if (
    t.length !== 30 ||
    t[4] !== '-' ||
    t[7] !== '-' ||
    t[10] !== 'T' ||
    t[13] !== ':' ||
    t[16] !== ':' ||
    t[19] !== '.' ||
    t[29] !== 'Z'
  )
    return false;
  if (two(t, 0) < 0 || two(t, 2) < 0) return false;
  for (let i = 20; i < 29; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  const mo = two(t, 5);
  const d = two(t, 8);
  const h = two(t, 11);
  const mi = two(t, 14);
  const s = two(t, 17);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

function badTime(t: string | undefined): boolean {
  if (t === undefined || canonicalTime(t)) return false;
  try {
    rfc3339ToNs(t);
  } catch {
    return true;
  }
  const [mo, d, h, mi, s] = FIELDS_RE.exec(t)!.slice(1).map(Number);
  return mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60;
}

/** The reason a node must be refused, other than its name, or undefined. */
function typeFault(n: TreeNode): string | undefined {
  if (n.type !== 'dir' && n.subtree !== undefined) return `a ${n.type} with a subtree`;
  if (n.type !== 'file' && n.content !== undefined && n.content.length > 0) return `a ${n.type} with content`;
  if (n.type === 'symlink') {
    if (n.linktarget === undefined || n.linktarget.length === 0) return 'a symlink without a target';
    if (n.linktarget.includes(0)) return 'a symlink target containing NUL';
  }
  if ((n.type === 'chardev' || n.type === 'blockdev') && (n.rdev === undefined || !/^\d{1,20}$/.test(n.rdev)))
    return `a ${n.type} without a valid device number`;
  return undefined;
}

function metadataFault(n: TreeNode): string | undefined {
  if (!isInt(n.mode, 0o7777)) return `mode ${n.mode} is not a permission mode (0 to 0o7777)`;
  if (!isInt(n.uid, MAX_ID) || !isInt(n.gid, MAX_ID)) return `owner ${n.uid}:${n.gid} is not a pair of 32-bit ids`;
  return undefined;
}

/**
 * Every fault of a tree's nodes. Refused: unsafe names (empty, ".", "..", containing "/" or NUL, so also
 * absolute ones), every node of a name that occurs twice (a symlink and a directory of one name would let a
 * later path run through the link), type confusion, a mode or owner out of range. Kept with defaults: times
 * that are not RFC 3339 (they become DEFAULT_TIME).
 */
export function treeFaults(tree: Tree, treeId: string): NodeFault[] {
  const faults: NodeFault[] = [];
  const fault = (n: TreeNode, kind: NodeFaultKind, message: string, refused = true) =>
    faults.push({ tree: treeId, name: n.name, kind, message, refused });
  let dup: Set<string> | undefined;
  // Encoders sort by name, so duplicates are neighbours; a hostile tree need not be sorted, hence the set.
  const seen = new Set<string>();
  for (const n of tree.nodes) {
    const key = n.name.toString('latin1');
    if (seen.has(key)) (dup ??= new Set()).add(key);
    seen.add(key);
  }
  for (const n of tree.nodes) {
    if (!isSafeName(n.name)) {
      fault(n, 'name', 'unsafe name (empty, "." or "..", or containing "/" or NUL)');
      continue;
    }
    if (dup?.has(n.name.toString('latin1'))) {
      fault(n, 'duplicate', 'name occurs more than once in the tree');
      continue;
    }
    const t = typeFault(n);
    if (t !== undefined) {
      fault(n, 'type', t);
      continue;
    }
    const m = metadataFault(n);
    if (m !== undefined) {
      fault(n, 'metadata', m);
      continue;
    }
    const times = (['mtime', 'atime', 'ctime'] as const).filter((k) => badTime(n[k]));
    if (times.length > 0)
      fault(n, 'time', `invalid ${times.map((k) => `${k} ${JSON.stringify(n[k])}`).join(', ')}`, false);
  }
  return faults;
}

/**
 * The nodes of a tree a reader may turn into paths: refused nodes left out, bad times replaced by
 * DEFAULT_TIME. `onFault` hears each fault once. Returns the tree's own array when nothing is wrong.
 */
export function readableNodes(tree: Tree, treeId: string, onFault: (f: NodeFault) => void): TreeNode[] {
  const faults = treeFaults(tree, treeId);
  if (faults.length === 0) return tree.nodes;
  for (const f of faults) onFault(f);
  const refused = new Set<TreeNode>();
  const retimed = new Set<TreeNode>();
  // Faults come in node order; match them back to nodes by walking both.
  let k = 0;
  for (const n of tree.nodes) {
    if (k < faults.length && faults[k].name === n.name) {
      (faults[k].refused ? refused : retimed).add(n);
      k++;
    }
  }
  const out: TreeNode[] = [];
  for (const n of tree.nodes) {
    if (refused.has(n)) continue;
    if (!retimed.has(n)) {
      out.push(n);
      continue;
    }
    const fixed: TreeNode = {
      ...n,
      mtime: badTime(n.mtime) ? DEFAULT_TIME : n.mtime,
      ctime: badTime(n.ctime) ? DEFAULT_TIME : n.ctime,
    };
    if (n.atime !== undefined) fixed.atime = badTime(n.atime) ? DEFAULT_TIME : n.atime;
    out.push(fixed);
  }
  return out;
}
