// What the UI's browsing pages read: the snapshot timeline per host and path set, one directory of a snapshot,
// and the diff of two snapshots. Built on the library's own listing, path resolution and diff code.
// Must never name or reach anything outside a snapshot's trees: paths are resolved inside a snapshot only,
// and a path with a ".." component (or a NUL) is refused before anything is read.

import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { resolveSnapshotPath, type ResolvedPath } from '../restorer/index.js';
import { diffTrees, type DiffChange, type DiffStats } from '../snapshot/diff.js';
import { findSnapshot, listSnapshots, type SnapshotReader, type StoredSnapshot } from '../snapshot/snapshot.js';
import { displayName, type NodeType } from '../tree/node.js';
import { loadTree, storedTreeShapes } from '../tree/tree-store.js';
import { ValidatingReader } from '../tree/validate-reader.js';

export interface TimelineSnapshot {
  id: string;
  short: string;
  time: string;
  tags: string[];
  /** Bytes of the files as backed up, and new bytes the backup added (from the snapshot's summary; null if absent). */
  size: number | null;
  added: number | null;
  files: number | null;
}

export interface TimelineGroup {
  host: string;
  paths: string[];
  snapshots: TimelineSnapshot[];
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Snapshots grouped by host and path set (as `forget` groups them), newest group activity first. */
export async function timeline(snaps: SnapshotReader): Promise<TimelineGroup[]> {
  const groups = new Map<string, TimelineGroup>();
  for (const sn of await listSnapshots(snaps)) {
    const paths = [...sn.paths].sort();
    const key = JSON.stringify([sn.hostname, paths]);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { host: sn.hostname, paths, snapshots: [] }));
    const s = sn.summary as Record<string, unknown> | undefined;
    g.snapshots.push({
      id: sn.id,
      short: shortId(sn.id),
      time: sn.time,
      tags: sn.tags ?? [],
      size: num(s?.total_bytes_processed),
      added: num(s?.data_added),
      files: num(s?.total_files_processed),
    });
  }
  return [...groups.values()].sort((a, b) =>
    (b.snapshots.at(-1)?.time ?? '').localeCompare(a.snapshots.at(-1)?.time ?? ''),
  );
}

/** A '/'-joined path inside a snapshot, refused if it could mean anything but a path inside it. */
export function snapshotPath(raw: string | null): string {
  const p = raw ?? '/';
  const parts = p.split('/');
  if (parts.includes('..') || p.includes('\0') || p.includes('\\'))
    throw new RepoError('INVALID_ARGUMENT', `path ${JSON.stringify(p.slice(0, 200))} is not a path inside a snapshot`);
  return '/' + parts.filter((x) => x !== '' && x !== '.').join('/');
}

export interface Located {
  sn: StoredSnapshot;
  path: string;
  resolved: ResolvedPath;
}

/** The snapshot (id, prefix or "latest") and the node at `path` in it; NotFoundError when it has none. */
export async function locate(
  repo: Repository,
  ref: string,
  rawPath: string | null,
  snaps: SnapshotReader = repo,
): Promise<Located> {
  const path = snapshotPath(rawPath);
  const sn = await findSnapshot(snaps, ref);
  return { sn, path, resolved: await resolveSnapshotPath(repo, sn, path) };
}

export interface DirEntry {
  name: string;
  type: NodeType;
  size: number;
  mtime: string;
  mode: number;
  linktarget?: string;
}

export interface Listing {
  snapshot: { id: string; short: string; time: string; host: string; paths: string[]; tags: string[] };
  path: string;
  /** Set when the path names a file (or other non-directory): its entry; `entries` is then empty. */
  node?: DirEntry;
  entries: DirEntry[];
  /** Entries refused as unsafe (named in `warnings`). */
  warnings: string[];
}

function entryOf(n: {
  name: Buffer;
  type: NodeType;
  size?: number;
  mtime: string;
  mode: number;
  linktarget?: Buffer;
}): DirEntry {
  const e: DirEntry = { name: displayName(n.name), type: n.type, size: n.size ?? 0, mtime: n.mtime, mode: n.mode };
  if (n.linktarget !== undefined) e.linktarget = displayName(n.linktarget);
  return e;
}

/** One directory of a snapshot (or the one entry a file path names), unsafe nodes left out and reported. */
export async function listDirectory(
  repo: Repository,
  ref: string,
  rawPath: string | null,
  snaps: SnapshotReader = repo,
): Promise<Listing> {
  const { sn, path, resolved } = await locate(repo, ref, rawPath, snaps);
  const warnings: string[] = [];
  const listing: Listing = {
    snapshot: {
      id: sn.id,
      short: shortId(sn.id),
      time: sn.time,
      host: sn.hostname,
      paths: sn.paths,
      tags: sn.tags ?? [],
    },
    path,
    entries: [],
    warnings,
  };
  if (resolved.node !== undefined && resolved.treeId === undefined) {
    listing.node = entryOf(resolved.node);
    return listing;
  }
  const reader = new ValidatingReader(
    (id) => loadTree(repo, id),
    (line) => warnings.push(line),
  );
  reader.snapshot = sn.id;
  const nodes = await reader.nodes(resolved.treeId ?? sn.tree, path === '/' ? '' : path);
  listing.entries = nodes
    .map(entryOf)
    .sort((a, b) =>
      (a.type === 'dir') !== (b.type === 'dir') ? (a.type === 'dir' ? -1 : 1) : a.name.localeCompare(b.name),
    );
  return listing;
}

export interface DiffView {
  a: { id: string; short: string; time: string };
  b: { id: string; short: string; time: string };
  changes: DiffChange[];
  /** More changes than MAX_CHANGES: the list stops there, the statistics count them all. */
  truncated: boolean;
  stats: DiffStats;
  warnings: string[];
}

const MAX_CHANGES = 5000;

/** `repo diff A B` as data (snapshot/diff.ts), unsafe nodes left out as the CLI's diff does. */
export async function diffView(
  repo: Repository,
  refA: string,
  refB: string,
  snaps: SnapshotReader = repo,
): Promise<DiffView> {
  const a = await findSnapshot(snaps, refA);
  const b = await findSnapshot(snaps, refB);
  const warnings: string[] = [];
  const reader = (sn: StoredSnapshot) => {
    const r = new ValidatingReader(
      (id) => loadTree(repo, id),
      (line) => warnings.push(line),
      storedTreeShapes(repo),
    );
    r.snapshot = sn.id;
    return r;
  };
  const [ra, rb] = [reader(a), reader(b)];
  const changes: DiffChange[] = [];
  let truncated = false;
  const r = await diffTrees(repo, a.tree, b.tree, {
    loadTree: (id, path, side) => (side === 'a' ? ra : rb).tree(id, path),
    collect: false,
    onChange: (c) => {
      if (changes.length < MAX_CHANGES) changes.push(c);
      else truncated = true;
    },
  });
  const brief = (s: StoredSnapshot) => ({ id: s.id, short: shortId(s.id), time: s.time });
  return { a: brief(a), b: brief(b), changes, truncated, stats: r.stats, warnings };
}
