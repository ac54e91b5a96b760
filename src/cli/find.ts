// `repo find PATTERN...` (which snapshots hold matching paths) and `repo find --blob/--tree/--pack ID` (where objects are used).
// Read-only (shared lock); snapshots are searched oldest first.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { findObjects, findPaths, resolveTargets, type ObjectHit, type SnapshotMatches } from '../snapshot/find.js';
import { findSnapshot, listSnapshots, matchesFilter, type StoredSnapshot } from '../snapshot/snapshot.js';
import { displayName, type TreeNode } from '../tree/node.js';
import { loadTree as loadStoredTree, storedTreeShapes } from '../tree/tree-store.js';
import { ValidatingReader } from '../tree/validate-reader.js';
import { addFilterFlags, Env, runtime, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { formatTimestamp, modeString } from './format.js';
import { collect, parseTime } from './parse.js';

interface FindFlags extends FilterFlags {
  ignoreCase?: boolean;
  oldest?: string;
  newest?: string;
  snapshot?: string[];
  blob?: string[];
  tree?: string[];
  pack?: string[];
  long?: boolean;
}

export function registerFind(program: Command): void {
  const cmd = program
    .command('find')
    .description('find files and directories by name, or where blobs, trees and packs are used')
    .argument(
      '[patterns...]',
      'glob patterns: without "/" matched against the name, with a leading "/" against the whole path, else against its last components; with --blob/--tree/--pack: more ids of that kind',
    )
    .option('-i, --ignore-case', 'match patterns case-insensitively')
    .option('-O, --oldest <time>', 'only entries modified at or after this time')
    .option('-N, --newest <time>', 'only entries modified at or before this time')
    .option('-s, --snapshot <id>', 'only search this snapshot (repeatable)', collect)
    .option('--blob <id>', 'find where this data blob (id or unique prefix) is used (repeatable)', collect)
    .option('--tree <id>', 'find where this tree is used (repeatable)', collect)
    .option('--pack <id>', 'find where the blobs of this pack are used (repeatable)', collect)
    .option('-l, --long', 'show mode, owner, size and modification time');
  addFilterFlags(cmd, collect).action((patterns: string[], flags: FindFlags, c: Command) =>
    runFind(Env.from(c), patterns, flags),
  );
}

async function selectSnapshots(repo: Repository, flags: FindFlags): Promise<StoredSnapshot[]> {
  const filter = snapshotFilter(flags);
  if (!flags.snapshot?.length) return (await listSnapshots(repo)).filter((sn) => matchesFilter(sn, filter));
  const out = new Map<string, StoredSnapshot>();
  for (const ref of flags.snapshot) {
    const sn = await findSnapshot(repo, ref, filter);
    out.set(sn.id, sn);
  }
  return [...out.values()];
}

function nodeJson(n: TreeNode, path: string): Record<string, unknown> {
  const o: Record<string, unknown> = {
    path,
    name: displayName(n.name),
    type: n.type,
    mode: n.mode,
    mtime: n.mtime,
    uid: n.uid,
    gid: n.gid,
  };
  if (n.user !== undefined) o.user = n.user;
  if (n.group !== undefined) o.group = n.group;
  if (n.size !== undefined) o.size = n.size;
  if (n.linktarget !== undefined) o.linktarget = displayName(n.linktarget);
  return o;
}

function longLine(n: TreeNode, path: string): string {
  const size = n.type === 'file' ? String(n.size ?? 0) : '0';
  return `${modeString(n.type, n.mode)} ${(n.user ?? String(n.uid)).padEnd(8)} ${(n.group ?? String(n.gid)).padEnd(8)} ${size.padStart(12)} ${formatTimestamp(n.mtime)} ${path}`;
}

/** With one kind of object flag, extra positional arguments are more ids of that kind (restic's `find --blob ID...`). */
function objectQuery(
  patterns: string[],
  flags: FindFlags,
): { blobs: string[]; trees: string[]; packs: string[] } | undefined {
  const q = { blobs: [...(flags.blob ?? [])], trees: [...(flags.tree ?? [])], packs: [...(flags.pack ?? [])] };
  const kinds = [q.blobs, q.trees, q.packs].filter((l) => l.length > 0);
  if (kinds.length === 0) return undefined;
  if (patterns.length > 0) {
    if (kinds.length > 1)
      throw new RepoError(
        'INVALID_ARGUMENT',
        'with more than one of --blob, --tree and --pack, give every id with its flag',
      );
    kinds[0].push(...patterns);
  }
  return q;
}

async function runFind(env: Env, patterns: string[], flags: FindFlags): Promise<void> {
  const out = env.out;
  const query = objectQuery(patterns, flags);
  if (query === undefined && patterns.length === 0)
    throw new RepoError('INVALID_ARGUMENT', 'give at least one pattern, or --blob, --tree or --pack');
  if (query !== undefined && (flags.oldest !== undefined || flags.newest !== undefined || flags.ignoreCase)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      '--oldest, --newest and --ignore-case apply to patterns, not to --blob/--tree/--pack',
    );
  }
  const oldest = flags.oldest === undefined ? undefined : parseTime(flags.oldest, '--oldest');
  const newest = flags.newest === undefined ? undefined : parseTime(flags.newest, '--newest');
  await withRepository(env, { workers: 0 }, async (repo) => {
    const snapshots = await selectSnapshots(repo, flags);
    if (query !== undefined) {
      const hits = await findObjects(repo, snapshots, resolveTargets(repo.index, query));
      printObjects(env, hits);
      return;
    }
    // Unsafe nodes are left out and named on standard error, and so are snapshots beyond the expansion bound; exit 1 at the end.
    const reader = new ValidatingReader(
      (id) => loadStoredTree(repo, id),
      (line) => out.warn(line),
      storedTreeShapes(repo),
    );
    const bounded: StoredSnapshot[] = [];
    for (const sn of snapshots) {
      reader.snapshot = sn.id;
      if (await reader.withinBounds(sn.tree)) bounded.push(sn);
    }
    const loadTree = (id: string, path: string, sn: StoredSnapshot) => {
      reader.snapshot = sn.id;
      return reader.tree(id, path);
    };
    const found = await findPaths(repo, bounded, { patterns, ignoreCase: flags.ignoreCase, oldest, newest, loadTree });
    if (reader.faults > 0) runtime.exitCode = 1;
    printMatches(env, found, flags.long === true);
    if (found.length === 0) out.info('no matching entries found');
  });
}

function printMatches(env: Env, found: SnapshotMatches[], long: boolean): void {
  if (env.out.json) {
    env.out.printJson(
      found.map((f) => ({
        message_type: 'matches',
        snapshot: f.snapshot.id,
        hits: f.matches.length,
        matches: f.matches.map((m) => nodeJson(m.node, m.path)),
      })),
    );
    return;
  }
  for (const f of found) {
    env.out.info(
      `Found matching entries in snapshot ${shortId(f.snapshot.id)} from ${formatTimestamp(f.snapshot.time)}`,
    );
    for (const m of f.matches) env.out.print(long ? longLine(m.node, m.path) : m.path);
    env.out.info('');
  }
}

function printObjects(env: Env, hits: ObjectHit[]): void {
  if (env.out.json) {
    env.out.printJson(
      hits.map((h) => ({
        message_type: 'object',
        object_type: h.objectType,
        id: h.id,
        path: h.path,
        parent_tree: h.parentTree,
        snapshot: h.snapshot.id,
        time: h.snapshot.time,
        packs: h.packs,
      })),
    );
    return;
  }
  if (hits.length === 0) env.out.info('the objects are not used by any of the snapshots searched');
  for (const h of hits) {
    const packs = h.packs.length > 0 ? ` (pack ${h.packs.map(shortId).join(', ')})` : '';
    env.out.print(
      `${h.objectType} ${shortId(h.id)}${packs} in snapshot ${shortId(h.snapshot.id)} (${formatTimestamp(h.snapshot.time)}): ${h.path}`,
    );
  }
}
