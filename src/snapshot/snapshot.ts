// Snapshot files (spec §10): what was backed up, when, from where, and the root tree.
// Listing, loading, saving, filtering and resolving "latest" or an id prefix.

import { FormatError, isRepoError, NotFoundError, RepoError, withContext } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import { AAD_SNAPSHOT } from '../repository/aad.js';
import type { Repository } from '../repository/repository.js';
import { rfc3339ToNs } from '../tree/time.js';

export interface SnapshotSummary {
  backup_start: string;
  backup_end: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number; // raw bytes of new blobs
  data_added_packed: number; // stored bytes of new blobs
  total_files_processed: number;
  total_bytes_processed: number;
  [extra: string]: number | string;
}

export interface Snapshot {
  time: string;
  tree: string;
  paths: string[];
  /** How the root tree is laid out (spec §10); absent in snapshots written before full paths. */
  tree_layout?: string;
  hostname: string;
  username: string;
  uid?: number;
  gid?: number;
  tags: string[];
  parent?: string;
  excludes?: string[];
  program_version: string;
  summary?: SnapshotSummary;
  original?: string;
  [extra: string]: unknown;
}

/**
 * The root tree layouts (spec §10). `full`: every backed-up path keeps its path from the file-system root
 * (relative arguments from the working directory), as restic stores it; written in `tree_layout` by every
 * backup since. `last-component`: the root holds one node per path named by its last component (with a
 * numeric suffix for repeats); snapshots without `tree_layout` use it.
 */
export type TreeLayout = 'full' | 'last-component';
export const FULL_LAYOUT = 'full';

export function treeLayout(sn: Pick<Snapshot, 'tree_layout'>): TreeLayout {
  return sn.tree_layout === undefined ? 'last-component' : 'full';
}

/**
 * The root node names a last-component snapshot gave its paths, in the order of `paths` (the writer named
 * them in that order: the base name, "root" for "/", then "-1", "-2" … for a name already taken).
 */
export function lastComponentNames(paths: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const used = new Set<string>();
  for (const p of paths) {
    if (names.has(p)) continue;
    const base =
      p
        .split('/')
        .filter((c) => c !== '')
        .pop() ?? 'root';
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}-${i}`;
    used.add(name);
    names.set(p, name);
  }
  return names;
}

export interface StoredSnapshot extends Snapshot {
  id: string;
}

export type SnapshotRepo = Pick<Repository, 'saveUnpacked' | 'loadUnpacked' | 'listNames'>;
export type SnapshotReader = Pick<Repository, 'loadUnpacked' | 'listNames'> & Partial<Pick<Repository, 'warn'>>;

export const REPAIR_SNAPSHOTS_HINT = 'run "repo repair snapshots --forget" to remove it';

export interface ListSnapshotsOptions {
  /**
   * Throw on a damaged snapshot file instead of skipping it. Prune needs this: the trees of a snapshot it
   * cannot read would look unused.
   */
  strict?: boolean;
  /** Told about each damaged snapshot file that was skipped (after the warning). */
  onDamaged?: (id: string, err: RepoError) => void;
}

/** A snapshot file that fails authentication or does not parse: nothing in it can be used. */
export function isDamagedFile(err: unknown): err is RepoError {
  return isRepoError(err, 'INTEGRITY') || isRepoError(err, 'FORMAT');
}

export async function saveSnapshot(repo: SnapshotRepo, sn: Snapshot): Promise<string> {
  return repo.saveUnpacked('snapshots', Buffer.from(JSON.stringify(sn), 'utf8'), AAD_SNAPSHOT);
}

export async function loadSnapshot(repo: SnapshotReader, id: string): Promise<StoredSnapshot> {
  const plain = await repo.loadUnpacked('snapshots', id, AAD_SNAPSHOT);
  let sn: Snapshot;
  try {
    sn = JSON.parse(plain.toString('utf8'));
  } catch (err) {
    throw new FormatError(
      `snapshot ${id} is not valid JSON`,
      { snapshot: id, file: `snapshots/${id}` },
      { cause: err },
    );
  }
  if (
    typeof sn !== 'object' ||
    sn === null ||
    typeof sn.time !== 'string' ||
    typeof sn.tree !== 'string' ||
    !isIdHex(sn.tree) ||
    !Array.isArray(sn.paths)
  ) {
    throw new FormatError(`snapshot ${id} lacks time, tree or paths`, { snapshot: id, file: `snapshots/${id}` });
  }
  sn.tags ??= [];
  return { ...sn, id };
}

/**
 * All snapshots, oldest first. A damaged snapshot file is skipped with a warning naming it and the repair
 * command (through repo.warn), so one bad file does not hide the others; `strict` throws instead.
 */
export async function listSnapshots(repo: SnapshotReader, opts: ListSnapshotsOptions = {}): Promise<StoredSnapshot[]> {
  const out: StoredSnapshot[] = [];
  for (const name of await repo.listNames('snapshots')) {
    try {
      out.push(await loadSnapshot(repo, name));
    } catch (err) {
      // Only a file proven damaged is skipped; an I/O error says nothing about its content.
      if (opts.strict || !isDamagedFile(err)) throw err;
      const warn = repo.warn ?? ((m: string) => process.emitWarning(m));
      warn(`snapshot file snapshots/${name} is damaged (${err.message}) and was skipped: ${REPAIR_SNAPSHOTS_HINT}`);
      opts.onDamaged?.(name, err);
    }
  }
  return sortByTime(out);
}

export function sortByTime<T extends Snapshot>(list: T[]): T[] {
  return list.sort((a, b) => {
    const d = rfc3339ToNs(a.time) - rfc3339ToNs(b.time);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
}

export interface SnapshotFilter {
  hosts?: string[];
  /** Each entry is a set of tags that must all be present; entries are alternatives (restic's --tag semantics). */
  tags?: string[][];
  paths?: string[];
}

export function matchesFilter(sn: Snapshot, f: SnapshotFilter): boolean {
  if (f.hosts && f.hosts.length > 0 && !f.hosts.includes(sn.hostname)) return false;
  if (f.tags && f.tags.length > 0 && !f.tags.some((set) => set.every((t) => sn.tags.includes(t)))) return false;
  if (f.paths && f.paths.length > 0 && !f.paths.every((p) => sn.paths.includes(p))) return false;
  return true;
}

/** Resolves "latest" (newest matching the filter) or a unique id prefix. */
export async function findSnapshot(
  repo: SnapshotReader,
  ref: string,
  filter: SnapshotFilter = {},
): Promise<StoredSnapshot> {
  try {
    return await findSnapshotUnhinted(repo, ref, filter);
  } catch (err) {
    if (isDamagedFile(err) && !err.message.includes('repair snapshots'))
      throw withContext(err, {}, { message: (m) => `${m}: ${REPAIR_SNAPSHOTS_HINT}` });
    throw err;
  }
}

async function findSnapshotUnhinted(
  repo: SnapshotReader,
  ref: string,
  filter: SnapshotFilter,
): Promise<StoredSnapshot> {
  if (ref === 'latest') {
    const all = (await listSnapshots(repo)).filter((s) => matchesFilter(s, filter));
    if (all.length === 0) throw new NotFoundError('no snapshot matches', { snapshot: 'latest' });
    return all[all.length - 1];
  }
  if (!/^[0-9a-f]{1,64}$/.test(ref))
    throw new RepoError('INVALID_ARGUMENT', `invalid snapshot id "${ref}"`, { snapshot: ref });
  const matches = (await repo.listNames('snapshots')).filter((n) => n.startsWith(ref));
  if (matches.length === 0) throw new NotFoundError(`no snapshot with id ${ref}`, { snapshot: ref });
  if (matches.length > 1)
    throw new RepoError('AMBIGUOUS', `snapshot id prefix ${ref} matches ${matches.length} snapshots`, {
      snapshot: ref,
    });
  return loadSnapshot(repo, matches[0]);
}
