// `repo prune`: deletes packs no snapshot needs and repacks partly used ones (exclusive lock).
// The library orders the work so a crash at any instant leaves every remaining snapshot restorable.

import type { Command } from 'commander';
import { executePrune } from '../maintenance/prune-execute.js';
import { parseMaxUnused, planPrune, pruneHasWork, type PrunePlan } from '../maintenance/prune-plan.js';
import type { Repository } from '../repository/repository.js';
import { noteNothingChanged } from './audit-hook.js';
import { Env, withRepository } from './context.js';
import { formatBytes } from './format.js';
import { parseSize } from './parse.js';
import { describePhase, describeTransfer, StatusBlock } from './progress.js';

export interface PruneFlags {
  maxUnused?: string;
  maxRepackSize?: string;
  dryRun?: boolean;
}

export function addPruneFlags(cmd: Command): Command {
  return cmd
    .option(
      '--max-unused <limit>',
      'unused space to tolerate after pruning: a percentage (default 5%), a size, or unlimited',
    )
    .option('--max-repack-size <size>', 'repack at most this many bytes of packs in one run');
}

export function registerPrune(program: Command): void {
  addPruneFlags(program.command('prune').description('remove data that no snapshot references'))
    .option('-n, --dry-run', 'only show what would be removed and repacked')
    .action((flags: PruneFlags, c: Command) => {
      const env = Env.from(c);
      return withRepository(env, {}, (repo) => pruneRepository(env, repo, flags), 'exclusive');
    });
}

/** Plans and (unless a dry run) executes a prune on an exclusively locked repository, printing the outcome. */
export async function pruneRepository(env: Env, repo: Repository, flags: PruneFlags): Promise<void> {
  const live = new PruneLive(env.out.progress).start();
  try {
    await prune(env, repo, flags, live);
  } finally {
    live.clear();
  }
}

async function prune(env: Env, repo: Repository, flags: PruneFlags, live: PruneLive): Promise<void> {
  const plan = await planPrune(repo, {
    maxUnused: flags.maxUnused === undefined ? undefined : parseMaxUnused(flags.maxUnused),
    maxRepackSize: flags.maxRepackSize === undefined ? undefined : parseSize(flags.maxRepackSize, '--max-repack-size'),
  });
  live.clear();
  if (flags.dryRun) {
    if (env.out.json) env.out.printJson({ message_type: 'prune_plan', dry_run: true, ...planJson(plan) });
    else printPlan(env, plan, true);
    return;
  }
  const started = Date.now();
  live.start();
  live.phase = { phase: pruneHasWork(plan) ? 'rewriting the index' : 'removing temporary files', done: 0, total: 0 };
  const result = await executePrune(repo, plan, { onProgress: (p) => (live.phase = p) }).finally(() => live.clear());
  const seconds = (Date.now() - started) / 1000;
  if (!pruneHasWork(plan) && result.temporaryFilesRemoved === 0) noteNothingChanged('prune');
  if (env.out.json) {
    // bytes_freed is measured here (pack files removed minus packs written), not the plan's expectation.
    env.out.printJson({
      message_type: 'prune_summary',
      dry_run: false,
      ...planJson(plan),
      bytes_freed: result.bytesFreed,
      packs_written: result.packsWritten,
      temporary_files_removed: result.temporaryFilesRemoved,
      seconds,
    });
    return;
  }
  printPlan(env, plan, false);
  if (result.temporaryFilesRemoved > 0)
    env.out.info(`removed ${result.temporaryFilesRemoved} abandoned temporary files`);
  if (!pruneHasWork(plan)) return;
  env.out.info(
    `done in ${seconds.toFixed(1)} s: ${result.packsDeleted} packs deleted, ${result.packsRepacked} repacked into ${result.packsWritten}, ` +
      `${formatBytes(result.bytesFreed)} freed; unused space left: ${formatBytes(plan.stats.bytesUnusedAfter)}`,
  );
}

/** Prune's status line on a terminal: which phase runs, and for repacking and deleting the packs done. */
class PruneLive {
  private current = { phase: 'finding the blobs snapshots use', done: 0, total: 0 };
  private since = Date.now(); // rate and ETA count from the start of the phase
  private readonly block: StatusBlock;

  set phase(p: { phase: string; done: number; total: number }) {
    if (p.phase !== this.current.phase) this.since = Date.now();
    this.current = p;
  }

  constructor(enabled: boolean) {
    this.block = new StatusBlock(enabled, (secs) => {
      const p = this.current;
      if (p.total === 0) return [describePhase(secs, p.phase)];
      return [
        describeTransfer({
          label: p.phase === 'repack' ? 'repacking' : p.phase === 'delete' ? 'deleting' : p.phase,
          seconds: secs,
          workSeconds: (Date.now() - this.since) / 1000,
          done: p.done,
          total: p.total,
          unit: 'packs',
        }),
      ];
    });
  }

  start(): this {
    this.block.start();
    return this;
  }

  clear(): void {
    this.block.clear();
  }
}

function planJson(p: PrunePlan): Record<string, unknown> {
  const s = p.stats;
  return {
    nothing_to_do: !pruneHasWork(p),
    packs_to_delete: p.deletePacks.length,
    packs_to_repack: p.repackPacks.length,
    unreferenced_packs: p.unreferencedPacks.length,
    superseded_index_files: p.supersededIndexFiles.length,
    blobs_used: s.blobsUsed,
    blobs_unused: s.blobsUnused,
    bytes_total: s.bytesTotal,
    bytes_used: s.bytesUsed,
    bytes_unused: s.bytesUnused,
    bytes_unreferenced: s.bytesUnreferenced,
    bytes_unused_limit: s.bytesUnusedLimit,
    bytes_to_delete: s.bytesToDelete,
    bytes_to_repack: s.bytesToRepack,
    packs_to_write: s.packsToWrite,
    bytes_freed: s.bytesFreed,
    bytes_unused_after: s.bytesUnusedAfter,
    // Only with Object Lock: the shape stays restic's for every other repository.
    ...(p.lockedPacks.length > 0 ? { locked_packs: p.lockedPacks } : {}),
  };
}

/** The packs prune leaves because they are still under Object Lock, and until when (earliest and latest). */
export function describeLockedPacks(p: PrunePlan): string | undefined {
  const l = p.lockedPacks;
  if (l.length === 0) return undefined;
  const dates = l.map((x) => x.until).sort();
  const bytes = l.reduce((a, x) => a + x.bytes, 0);
  const span =
    dates[0] === dates[dates.length - 1] ? `until ${dates[0]}` : `until ${dates[0]} … ${dates[dates.length - 1]}`;
  return `keeps ${l.length} packs (${formatBytes(bytes)}) it would remove: they are under object lock ${span}; prune again after that`;
}

function printPlan(env: Env, p: PrunePlan, dryRun: boolean): void {
  const s = p.stats;
  const unref =
    p.unreferencedPacks.length > 0
      ? `; ${p.unreferencedPacks.length} packs (${formatBytes(s.bytesUnreferenced)}) are in no index`
      : '';
  env.out.info(
    `${s.snapshots} snapshots use ${s.blobsUsed} blobs (${formatBytes(s.bytesUsed)}); ${s.blobsUnused} blobs (${formatBytes(s.bytesUnused)}) are unused${unref}`,
  );
  const locked = describeLockedPacks(p);
  if (locked !== undefined) env.out.info(locked);
  if (!pruneHasWork(p)) {
    const limit = s.bytesUnusedLimit === null ? 'no limit' : `the limit of ${formatBytes(s.bytesUnusedLimit)}`;
    const why =
      s.bytesUnusedAfter > 0
        ? `the ${formatBytes(s.bytesUnusedAfter)} unused are within ${limit}`
        : 'no pack holds unused data';
    env.out.info(`nothing to do: ${why}, and merging small packs would not make fewer packs`);
    return;
  }
  if (p.deletePacks.length + p.unreferencedPacks.length + p.repackPacks.length === 0) {
    env.out.info(
      `${dryRun ? 'would rewrite' : 'rewrites'} the index: ${p.supersededIndexFiles.length} superseded index files were left by an interrupted prune or repair`,
    );
    return;
  }
  const would = dryRun ? 'would ' : '';
  const into = p.repackPacks.length > 0 ? ` into about ${s.packsToWrite}` : '';
  env.out.info(
    `${would}delete ${p.deletePacks.length + p.unreferencedPacks.length} packs (${formatBytes(s.bytesToDelete)}), ${would}repack ${p.repackPacks.length} packs (${formatBytes(s.bytesToRepack)})${into}`,
  );
  if (dryRun)
    env.out.info(
      `would free about ${formatBytes(s.bytesFreed)}; unused space left: ${formatBytes(s.bytesUnusedAfter)}`,
    );
}
