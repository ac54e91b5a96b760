// `repo stats [SNAPSHOT...]`: restic's counting modes plus dedupe and compression figures and what each snapshot added.
// Read-only (shared lock); with no snapshot arguments every snapshot matching the filters is counted.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { computeStats, STATS_MODES, type StatsMode, type StatsReport } from '../maintenance/stats.js';
import type { Repository } from '../repository/repository.js';
import { findSnapshot, listSnapshots, matchesFilter, type StoredSnapshot } from '../snapshot/snapshot.js';
import { addFilterFlags, Env, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { formatBytes, formatTimestamp, renderTable } from './format.js';
import { collect } from './parse.js';

interface StatsFlags extends FilterFlags {
  mode: string;
}

export function registerStats(program: Command): void {
  const cmd = program
    .command('stats')
    .description(
      'show how much data the repository or some snapshots hold, and how well it deduplicates and compresses',
    )
    .argument(
      '[snapshots...]',
      'snapshot ids (or unique prefixes, or "latest"); default: all snapshots matching the filters',
    )
    .option('--mode <mode>', `counting mode: ${STATS_MODES.join(', ')}`, 'restore-size');
  addFilterFlags(cmd, collect).action((refs: string[], flags: StatsFlags, c: Command) =>
    runStats(Env.from(c), refs, flags),
  );
}

/** The snapshots named on the command line (deduplicated), or all matching the filters. */
export async function selectSnapshots(repo: Repository, refs: string[], flags: FilterFlags): Promise<StoredSnapshot[]> {
  const filter = snapshotFilter(flags);
  if (refs.length === 0) return (await listSnapshots(repo)).filter((sn) => matchesFilter(sn, filter));
  const out = new Map<string, StoredSnapshot>();
  for (const ref of refs) {
    const sn = await findSnapshot(repo, ref, filter);
    out.set(sn.id, sn);
  }
  return [...out.values()];
}

/** The --json form: restic's keys at the top level, our additions in snake_case objects. */
export function statsJson(r: StatsReport): Record<string, unknown> {
  const snake = (o: object) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), v]));
  const { summary, snapshots, repository, mode, ...top } = r;
  return {
    message_type: 'stats',
    ...snake(top),
    mode,
    summary: snake(summary),
    snapshots: snapshots.map((s) => ({ ...snake(s), short_id: shortId(s.id) })),
    repository: snake(repository),
  };
}

async function runStats(env: Env, refs: string[], flags: StatsFlags): Promise<void> {
  const mode = flags.mode as StatsMode;
  if (!STATS_MODES.includes(mode)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid --mode ${JSON.stringify(flags.mode)}: use one of ${STATS_MODES.join(', ')}`,
    );
  }
  const allSnapshots = refs.length === 0 && !flags.host && !flags.tag && !flags.path;
  const report = await withRepository(env, { workers: 0 }, async (repo) =>
    computeStats(repo, await selectSnapshots(repo, refs, flags), mode, { allSnapshots }),
  );
  if (env.out.json) {
    env.out.printJson(statsJson(report));
    return;
  }
  const out = env.out;
  const line = (label: string, value: string) => out.print(`${label.padStart(26)}:  ${value}`);
  const x = (v: number) => `${v.toFixed(2)}x`;
  out.print(`Stats in ${mode} mode:`);
  line('Snapshots processed', String(report.snapshotsCount));
  if (report.totalFileCount !== undefined) line('Total File Count', String(report.totalFileCount));
  if (report.totalBlobCount !== undefined) line('Total Blob Count', String(report.totalBlobCount));
  line('Total Size', formatBytes(report.totalSize));
  if (report.totalUncompressedSize !== undefined) {
    line('Total Uncompressed Size', formatBytes(report.totalUncompressedSize));
    line('Compression Ratio', x(report.compressionRatio ?? 0));
    line('Compression Progress', `${(report.compressionProgress ?? 0).toFixed(2)}%`);
    line('Compression Space Saving', `${(report.compressionSpaceSaving ?? 0).toFixed(2)}%`);
  }
  const s = report.summary;
  out.print('');
  out.print('Data referenced by these snapshots:');
  line('Logical size', formatBytes(s.logicalBytes));
  line('Unique (uncompressed)', formatBytes(s.uniqueBytes));
  line('Stored', formatBytes(s.storedBytes));
  line('Dedupe ratio', x(s.dedupeRatio));
  line('Compression ratio', x(s.compressionRatio));
  line(
    'Blobs',
    `${s.blobCount} (${s.dataBlobs} data, ${s.treeBlobs} tree), average ${formatBytes(Math.round(s.averageBlobSize))}`,
  );
  line('Packs', String(s.packCount));
  if (s.missingBlobs > 0) out.warn(`${s.missingBlobs} referenced blobs are not in the index (run check)`);
  const t = report.repository;
  out.print('');
  out.print('Whole repository (index):');
  line('Blobs', `${t.blobCount} (${t.dataBlobs} data, ${t.treeBlobs} tree)`);
  line('Stored', `${formatBytes(t.storedBytes)} in ${t.packCount} packs (${formatBytes(t.packBytes)} with headers)`);
  if (t.unreferencedBlobs !== undefined)
    line('Unreferenced', `${t.unreferencedBlobs} blobs, ${formatBytes(t.unreferencedStoredBytes ?? 0)}`);
  if (report.snapshots.length > 0 && !out.quiet) {
    out.print('');
    const rows = report.snapshots.map((sn) => [
      shortId(sn.id),
      formatTimestamp(sn.time),
      formatBytes(sn.logicalBytes),
      String(sn.addedBlobs),
      formatBytes(sn.addedRawBytes),
      formatBytes(sn.addedStoredBytes),
    ]);
    out.print(renderTable(['ID', 'Time', 'Logical', 'Added blobs', 'Added raw', 'Added stored'], rows, [2, 3, 4, 5]));
  }
}
