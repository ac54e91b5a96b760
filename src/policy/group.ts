// Splits snapshots into the groups a retention policy is applied to (restic's --group-by host,paths,tags).
// Pure; must never mutate the snapshots (restic sorts their paths and tags in place, we copy).

import { RepoError } from '../core/errors.js';

export type GroupByField = 'host' | 'paths' | 'tags';
export type GroupKey = { hostname?: string; paths?: string[]; tags?: string[] };
export interface SnapshotGroup<T> {
  key: GroupKey;
  snapshots: T[];
}

export const DEFAULT_GROUP_BY = 'host,paths';
const FIELDS: GroupByField[] = ['host', 'paths', 'tags'];
const ALIASES: Record<string, GroupByField> = {
  host: 'host',
  hosts: 'host',
  path: 'paths',
  paths: 'paths',
  tag: 'tags',
  tags: 'tags',
};

/** "host,paths" → ['host','paths']; '' → [] (one group). Singular forms are accepted; unknown names are INVALID_ARGUMENT. */
export function parseGroupBy(s: string): GroupByField[] {
  const chosen = new Set<GroupByField>();
  for (const part of s.split(',')) {
    const name = part.trim();
    if (name === '') continue;
    const field = ALIASES[name];
    if (!field)
      throw new RepoError(
        'INVALID_ARGUMENT',
        `unknown grouping option ${JSON.stringify(name)} (use host, paths and/or tags)`,
      );
    chosen.add(field);
  }
  return FIELDS.filter((f) => chosen.has(f));
}

function sortedSet(list: string[] | undefined): string[] {
  return [...new Set(list ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function compareLists(a: string[] = [], b: string[] = []): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Groups by the chosen fields; paths and tags compare as sorted sets. Groups come sorted by key (hostname,
 * then paths, then tags); snapshots keep their input order inside a group. No snapshots → no groups.
 */
export function groupSnapshots<T extends { hostname: string; paths: string[]; tags: string[] }>(
  snapshots: T[],
  groupBy: GroupByField[],
): SnapshotGroup<T>[] {
  const groups = new Map<string, SnapshotGroup<T>>();
  for (const sn of snapshots) {
    const key: GroupKey = {};
    if (groupBy.includes('host')) key.hostname = sn.hostname ?? '';
    if (groupBy.includes('paths')) key.paths = sortedSet(sn.paths);
    if (groupBy.includes('tags')) key.tags = sortedSet(sn.tags);
    const id = JSON.stringify([key.hostname ?? null, key.paths ?? null, key.tags ?? null]);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key, snapshots: [] }));
    g.snapshots.push(sn);
  }
  return [...groups.values()].sort(
    (a, b) =>
      compareLists([a.key.hostname ?? ''], [b.key.hostname ?? '']) ||
      compareLists(a.key.paths, b.key.paths) ||
      compareLists(a.key.tags, b.key.tags),
  );
}

/** restic's SnapshotGroupKey.String(): "host h, path [/a /b], tags [x]" with empty parts left out. */
export function formatGroupKey(key: GroupKey): string {
  const parts: string[] = [];
  if (key.hostname) parts.push(`host ${key.hostname}`);
  if (key.paths && key.paths.length > 0) parts.push(`path [${key.paths.join(' ')}]`);
  if (key.tags && key.tags.length > 0) parts.push(`tags [${key.tags.join(' ')}]`);
  return parts.join(', ');
}
