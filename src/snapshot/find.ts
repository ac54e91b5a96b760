// Searching snapshots: paths matching glob patterns (`repo find PATTERN`), and where blobs, trees or a pack's blobs are used.
// Read-only; never loads a tree again once it is known to hold nothing searched for (when that cannot depend on its path).

import { NotFoundError, RepoError } from '../core/errors.js';
import { globToRegexSource } from '../core/glob.js';
import { idFromHex, idToHex, isIdHex } from '../core/id.js';
import type { MasterIndex } from '../repository/master-index.js';
import type { Repository } from '../repository/repository.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { rfc3339ToNs } from '../tree/time.js';
import { loadTree } from '../tree/tree-store.js';
import type { Tree } from '../tree/tree.js';
import type { StoredSnapshot } from './snapshot.js';

export type FindRepo = Pick<Repository, 'loadBlob' | 'index'>;

export interface PathMatcher {
  (path: string): boolean;
  /** True when every pattern looks at the last component only, so a tree's matches do not depend on where it sits. */
  readonly basenameOnly: boolean;
}

/**
 * Compiles find patterns. Without "/" a pattern matches the last path component ("*.go"); with a leading "/" it
 * matches the whole path from the snapshot root ("/docs/*.md"); with "/" elsewhere it matches the last components
 * of the path ("docs/*.md" matches "/home/docs/a.md"), as restic's relative patterns do.
 */
export function compilePatterns(patterns: string[], ignoreCase = false): PathMatcher {
  if (patterns.length === 0) throw new RepoError('INVALID_ARGUMENT', 'no pattern given');
  const flags = ignoreCase ? 'i' : '';
  const res = patterns.map((p) => {
    if (p === '') throw new RepoError('INVALID_ARGUMENT', 'empty pattern');
    if (!p.includes('/')) return { base: true, re: new RegExp(`^${globToRegexSource(p)}$`, flags) };
    const trimmed = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
    if (trimmed.startsWith('/'))
      return { base: false, re: new RegExp(`^/${globToRegexSource(trimmed.slice(1))}$`, flags) };
    return { base: false, re: new RegExp(`(?:^|/)${globToRegexSource(trimmed)}$`, flags) };
  });
  const m = (path: string) => {
    const base = path.slice(path.lastIndexOf('/') + 1);
    return res.some((r) => r.re.test(r.base ? base : path));
  };
  return Object.assign(m, { basenameOnly: res.every((r) => r.base) });
}

export interface FindPathsOptions {
  patterns: string[];
  ignoreCase?: boolean;
  /** Only entries modified at or after this time. */
  oldest?: Date;
  /** Only entries modified at or before this time. */
  newest?: Date;
  /** Loads the tree listing directory `path` of `snapshot` (default loadTree); cli/find.ts passes one that leaves out unsafe nodes. */
  loadTree?: (treeId: string, path: string, snapshot: StoredSnapshot) => Promise<Tree>;
}

export interface PathMatch {
  path: string;
  node: TreeNode;
}

export interface SnapshotMatches {
  snapshot: StoredSnapshot;
  matches: PathMatch[];
}

/** Every entry of each snapshot whose path matches a pattern (and whose mtime is within the bounds); snapshots without matches are left out. */
export async function findPaths(
  repo: FindRepo,
  snapshots: StoredSnapshot[],
  opts: FindPathsOptions,
): Promise<SnapshotMatches[]> {
  const match = compilePatterns(opts.patterns, opts.ignoreCase);
  const lo = opts.oldest === undefined ? undefined : BigInt(opts.oldest.getTime()) * 1_000_000n;
  const hi = opts.newest === undefined ? undefined : BigInt(opts.newest.getTime()) * 1_000_000n;
  const inTime = (n: TreeNode) => {
    if (lo === undefined && hi === undefined) return true;
    const t = rfc3339ToNs(n.mtime);
    return (lo === undefined || t >= lo) && (hi === undefined || t <= hi);
  };
  // With basename-only patterns a tree without matches has none wherever it occurs, so it is never walked twice.
  const barren = new Set<string>();
  const load = opts.loadTree ?? ((id: string) => loadTree(repo, id));
  const walk = async (treeId: string, prefix: string, out: PathMatch[], sn: StoredSnapshot): Promise<number> => {
    if (match.basenameOnly && barren.has(treeId)) return 0;
    let hits = 0;
    for (const n of (await load(treeId, prefix, sn)).nodes) {
      const path = `${prefix}/${displayName(n.name)}`;
      if (match(path) && inTime(n)) {
        out.push({ path, node: n });
        hits++;
      }
      if (n.type === 'dir' && n.subtree !== undefined) hits += await walk(n.subtree, path, out, sn);
    }
    if (hits === 0) barren.add(treeId);
    return hits;
  };
  const results: SnapshotMatches[] = [];
  for (const sn of snapshots) {
    const matches: PathMatch[] = [];
    await walk(sn.tree, '', matches, sn);
    if (matches.length > 0) results.push({ snapshot: sn, matches });
  }
  return results;
}

export interface ObjectTargets {
  /** Hex ids of data blobs to look for in file contents. */
  data: Set<string>;
  /** Hex ids of tree blobs to look for as directory subtrees and snapshot roots. */
  tree: Set<string>;
}

export interface ObjectQuery {
  blobs?: string[];
  trees?: string[];
  packs?: string[];
}

/** Resolves ids or unique prefixes of blobs, trees and packs (a pack stands for all its blobs) against the index. */
export function resolveTargets(index: MasterIndex, q: ObjectQuery): ObjectTargets {
  const t: ObjectTargets = { data: new Set(), tree: new Set() };
  const check = (p: string, what: string) => {
    if (!/^[0-9a-f]{1,64}$/.test(p))
      throw new RepoError('INVALID_ARGUMENT', `invalid ${what} id ${JSON.stringify(p.slice(0, 80))}`);
  };
  const prefixed: { prefix: string; type: 'data' | 'tree' | 'pack' }[] = [];
  for (const b of q.blobs ?? []) {
    check(b, 'blob');
    if (isIdHex(b)) t.data.add(b);
    else prefixed.push({ prefix: b, type: 'data' });
  }
  for (const b of q.trees ?? []) {
    check(b, 'tree');
    if (isIdHex(b)) t.tree.add(b);
    else prefixed.push({ prefix: b, type: 'tree' });
  }
  const packs = new Set<string>();
  for (const p of q.packs ?? []) {
    check(p, 'pack');
    const found = index.packIds().filter((id) => id.startsWith(p));
    if (found.length === 0) throw new NotFoundError(`no pack with id ${p} in the index`, { pack: p });
    if (found.length > 1)
      throw new RepoError('AMBIGUOUS', `pack id prefix ${p} matches ${found.length} packs`, { pack: p });
    packs.add(found[0]);
  }
  if (prefixed.length === 0 && packs.size === 0) return t;
  const hits = new Map<string, Set<string>>(); // prefix → full ids
  for (const e of index.entries()) {
    const hex = idToHex(e.id);
    if (packs.has(e.pack)) (e.type === 'data' ? t.data : t.tree).add(hex);
    for (const p of prefixed) {
      if (p.type === e.type && hex.startsWith(p.prefix))
        hits.set(p.type + p.prefix, (hits.get(p.type + p.prefix) ?? new Set()).add(hex));
    }
  }
  for (const p of prefixed) {
    const ids = hits.get(p.type + p.prefix);
    const what = p.type === 'data' ? 'blob' : 'tree';
    if (ids === undefined) throw new NotFoundError(`no ${what} with id ${p.prefix} in the index`, { blob: p.prefix });
    if (ids.size > 1)
      throw new RepoError('AMBIGUOUS', `${what} id prefix ${p.prefix} matches ${ids.size} ${what}s`, {
        blob: p.prefix,
      });
    (p.type === 'data' ? t.data : t.tree).add([...ids][0]);
  }
  return t;
}

export interface ObjectHit {
  objectType: 'blob' | 'tree';
  id: string;
  /** The file (blob) or directory (tree) using it; "/" for a snapshot's root tree. */
  path: string;
  /** The tree listing that file or directory (absent for a root tree). */
  parentTree?: string;
  snapshot: StoredSnapshot;
  /** Packs holding the object, from the index. */
  packs: string[];
}

/**
 * Every place in the given snapshots that uses one of the targets. A tree known to hold no target (at any depth)
 * is not loaded again, so searching many snapshots costs about one walk of their distinct trees.
 */
export async function findObjects(
  repo: FindRepo,
  snapshots: StoredSnapshot[],
  targets: ObjectTargets,
): Promise<ObjectHit[]> {
  const hits: ObjectHit[] = [];
  const packsOf = (type: 'data' | 'tree', hex: string) => [
    ...new Set(repo.index.lookupAll(type, idFromHex(hex)).map((l) => l.pack)),
  ];
  const holds = new Map<string, boolean>(); // tree id → some target occurs in it or below
  const walk = async (treeId: string, prefix: string, sn: StoredSnapshot): Promise<boolean> => {
    if (holds.get(treeId) === false) return false;
    let found = false;
    for (const n of (await loadTree(repo, treeId)).nodes) {
      const path = `${prefix}/${displayName(n.name)}`;
      if (n.type === 'file') {
        for (const c of new Set(n.content ?? [])) {
          if (!targets.data.has(c)) continue;
          hits.push({ objectType: 'blob', id: c, path, parentTree: treeId, snapshot: sn, packs: packsOf('data', c) });
          found = true;
        }
      }
      if (n.type === 'dir' && n.subtree !== undefined) {
        if (targets.tree.has(n.subtree)) {
          hits.push({
            objectType: 'tree',
            id: n.subtree,
            path,
            parentTree: treeId,
            snapshot: sn,
            packs: packsOf('tree', n.subtree),
          });
          found = true;
        }
        if (await walk(n.subtree, path, sn)) found = true;
      }
    }
    holds.set(treeId, found);
    return found;
  };
  if (targets.data.size === 0 && targets.tree.size === 0) return hits;
  for (const sn of snapshots) {
    if (targets.tree.has(sn.tree))
      hits.push({ objectType: 'tree', id: sn.tree, path: '/', snapshot: sn, packs: packsOf('tree', sn.tree) });
    await walk(sn.tree, '', sn);
  }
  return hits;
}
