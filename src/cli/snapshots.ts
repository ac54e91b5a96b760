// `repo snapshots`: lists snapshots as a table or JSON, filtered by host, tag and path.
// Read-only; `--latest N` keeps the newest N per group of (host, paths).

import type { Command } from 'commander';
import { shortId } from '../core/id.js';
import { listSnapshots, matchesFilter, type StoredSnapshot } from '../snapshot/snapshot.js';
import { addFilterFlags, Env, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { formatBytes, formatTimestamp, renderTable } from './format.js';
import { collect, parsePositiveInt } from './parse.js';

interface SnapshotsFlags extends FilterFlags {
  latest?: string;
}

export function registerSnapshots(program: Command): void {
  const cmd = program.command('snapshots').description('list snapshots');
  addFilterFlags(cmd, collect)
    .option('--latest <n>', 'only the newest N snapshots of each host and set of paths')
    .action((flags: SnapshotsFlags, c: Command) => runSnapshots(Env.from(c), flags));
}

/** The JSON form of a snapshot, as `snapshots --json` and `ls --json` print it. */
export function snapshotJson(sn: StoredSnapshot): Record<string, unknown> {
  const o: Record<string, unknown> = {
    id: sn.id,
    short_id: shortId(sn.id),
    time: sn.time,
    tree: sn.tree,
    paths: sn.paths,
    hostname: sn.hostname,
    username: sn.username,
    uid: sn.uid,
    gid: sn.gid,
    tags: sn.tags,
    parent: sn.parent,
    excludes: sn.excludes,
    program_version: sn.program_version,
    summary: sn.summary,
  };
  if (sn.original !== undefined) o.original = sn.original;
  return o;
}

/** Keeps the newest `n` snapshots of every (host, paths) group; input and output are oldest first. */
export function latestPerGroup(list: StoredSnapshot[], n: number): StoredSnapshot[] {
  const groups = new Map<string, StoredSnapshot[]>();
  for (const sn of list) {
    const key = JSON.stringify([sn.hostname, [...sn.paths].sort()]);
    const g = groups.get(key) ?? [];
    g.push(sn);
    groups.set(key, g);
  }
  const keep = new Set<StoredSnapshot>();
  for (const g of groups.values()) for (const sn of g.slice(-n)) keep.add(sn);
  return list.filter((sn) => keep.has(sn));
}

async function runSnapshots(env: Env, flags: SnapshotsFlags): Promise<void> {
  const latest = flags.latest === undefined ? undefined : parsePositiveInt(flags.latest, '--latest');
  const filter = snapshotFilter(flags);
  // Snapshot files are all it reads: no index (loading it was most of the command's time on a large repository).
  let damaged = 0; // each is warned about (naming the file and the repair command) as it is skipped
  let list = await withRepository(env, { skipIndex: true, workers: 0 }, async (repo) =>
    (await listSnapshots(repo, { onDamaged: () => damaged++ })).filter((sn) => matchesFilter(sn, filter)),
  );
  if (latest !== undefined) list = latestPerGroup(list, latest);
  if (env.out.json) {
    env.out.printJson(list.map((sn) => ({ message_type: 'snapshot', ...snapshotJson(sn) })));
    return;
  }
  const rows = list.map((sn) => [
    shortId(sn.id),
    formatTimestamp(sn.time),
    sn.hostname,
    sn.tags.join(','),
    sn.paths.join('\n'),
    sn.summary === undefined ? '' : formatBytes(sn.summary.total_bytes_processed),
  ]);
  env.out.print(renderTable(['ID', 'Time', 'Host', 'Tags', 'Paths', 'Size'], rows, [5]));
  env.out.print(
    `${list.length} snapshot${list.length === 1 ? '' : 's'}${damaged > 0 ? ` (${damaged} damaged snapshot file${damaged === 1 ? '' : 's'} skipped)` : ''}`,
  );
}
