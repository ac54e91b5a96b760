// The shape of a snapshot's root as restic builds it (its archiver's tree.go): every backed-up path keeps
// its full path from the file-system root, so `/srv/data/me` is stored as srv → data → me, and directories
// on the way are intermediate nodes with the metadata of the real directories. Pure path logic, no I/O
// except the directory listings that expand "/", "." or ".." and unroll nested targets.

import fs from 'node:fs';
import path from 'node:path';

/** One node of the planned root: a target to back up whole (`source`), or a directory holding some. */
export interface TargetNode {
  /** The absolute path backed up here (a leaf), or undefined for an intermediate directory. */
  source?: string;
  /** The absolute path of the real directory whose metadata an intermediate node carries. */
  infoPath?: string;
  /** Which root a top-level name came from ("/" for absolute targets, ".", "..", "../.." for relative ones). */
  root: string;
  children: Map<string, TargetNode>;
}

/**
 * Components as restic takes them: a relative target is joined to "/" and cleaned first, so its leading
 * ".." components disappear ("../src/a" → src, a) while its root (see `rootOf`) keeps them.
 */
function components(target: string): string[] {
  const clean = path.posix.normalize(path.posix.join('/', target));
  return clean.split('/').filter((c) => c !== '');
}

/** The directory holding a target's first component: "/" for absolute targets, "." plus one ".." per leading ".." otherwise. */
function rootOf(target: string): string {
  if (path.posix.isAbsolute(target)) return '/';
  let rel = '.';
  for (const c of path.posix.normalize(target).split('/')) if (c === '..') rel = path.posix.join(rel, c);
  return rel;
}

/**
 * Cleans the targets and replaces each one that has no components ("/", ".", "..") with its sorted entries,
 * as restic's resolveRelativeTargets does: `backup .` stores the current directory's entries at the root.
 */
export function expandTargets(targets: string[], cwd: string): string[] {
  const out: string[] = [];
  for (const t of targets) {
    const clean = path.posix.normalize(t);
    if (components(clean).length > 0) {
      out.push(clean);
      continue;
    }
    const names = fs.readdirSync(path.resolve(cwd, clean)).sort();
    for (const n of names) out.push(path.posix.join(clean, n));
  }
  return out;
}

/**
 * The planned root for (expanded) targets, with absolute paths resolved against `cwd`. Two top-level names
 * from different roots get restic's numeric suffixes (`tmp`, `tmp-1`); duplicate targets count once.
 */
export function planRoot(targets: string[], cwd: string): TargetNode {
  const top: TargetNode = { root: '', children: new Map() };
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target)) continue;
    seen.add(target);
    const pc = components(target);
    const root = rootOf(target);
    const rootAbs = path.resolve(cwd, root);
    let name = pc[0];
    for (let i = 1; ; i++) {
      const other = top.children.get(name);
      if (other === undefined || other.root === root) break;
      name = `${pc[0]}-${i}`;
    }
    let node = top.children.get(name);
    if (node === undefined) {
      node = { root, children: new Map() };
      top.children.set(name, node);
    }
    let at = path.join(rootAbs, pc[0]);
    for (const c of pc.slice(1)) {
      node.infoPath = at;
      let child = node.children.get(c);
      if (child === undefined) {
        child = { root: '', children: new Map() };
        node.children.set(c, child);
      }
      node = child;
      at = path.join(at, c);
    }
    node.source = path.resolve(cwd, target);
  }
  return top;
}

/** A node that is both a target and holds other targets lists the target's entries (restic's unrollTree). */
export function isUnrolled(n: TargetNode): boolean {
  return n.source !== undefined && n.children.size > 0;
}
