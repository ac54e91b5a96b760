// `repo prune`: deletes packs no snapshot needs and repacks partly used ones (exclusive lock).
// The library orders the work so a crash at any instant leaves every remaining snapshot restorable.

import type { Command } from 'commander';
import { executePrune } from '../maintenance/prune-execute.js';
import { parseMaxUnused, planPrune, type PrunePlan } from '../maintenance/prune-plan.js';
import type { Repository } from '../repository/repository.js';
import { Env, withRepository } from './context.js';
import { formatBytes } from './format.js';
import { parseSize } from './parse.js';

export interface PruneFlags {
  maxUnused?: string;
  maxRepackSize?: string;
  dryRun?: boolean;
}

export function addPruneFlags(cmd: Command): Command {
  return cmd
    .option('--max-unused <limit>', 'unused space to tolerate after pruning: a percentage (default 5%), a size, or unlimited')
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
  const plan = await planPrune(repo, {
    maxUnused: flags.maxUnused === undefined ? undefined : parseMaxUnused(flags.maxUnused),
    maxRepackSize: flags.maxRepackSize === undefined ? undefined : parseSize(flags.maxRepackSize, '--max-repack-size'),
  });
  if (flags.dryRun) {
    if (env.out.json) env.out.printJson({ message_type: 'prune_plan', dry_run: true, ...planJson(plan) });
    else printPlan(env, plan, true);
    return;
  }
  const started = Date.now();
  const writer = await repo.sibling({ skipIndex: true });
  const result = await executePrune(repo, writer, plan);
  await writer.close().catch(() => undefined);
  const seconds = (Date.now() - started) / 1000;
  if (env.out.json) {
    env.out.printJson({ message_type: 'prune_summary', dry_run: false, ...planJson(plan), packs_written: result.packsWritten, seconds });
    return;
  }
  printPlan(env, plan, false);
  env.out.info(`done in ${seconds.toFixed(1)} s: ${result.packsDeleted} packs deleted, ${result.packsRepacked} repacked into ${result.packsWritten}, ${formatBytes(result.bytesFreed)} freed`);
}

function planJson(p: PrunePlan): Record<string, unknown> {
  return {
    packs_to_delete: p.deletePacks.length,
    packs_to_repack: p.repackPacks.length,
    unreferenced_packs: p.unreferencedPacks.length,
    blobs_used: p.stats.blobsUsed,
    blobs_unused: p.stats.blobsUnused,
    bytes_total: p.stats.bytesTotal,
    bytes_used: p.stats.bytesUsed,
    bytes_unused: p.stats.bytesUnused,
    bytes_to_delete: p.stats.bytesToDelete,
    bytes_to_repack: p.stats.bytesToRepack,
    bytes_freed: p.stats.bytesFreed,
    bytes_unused_after: p.stats.bytesUnusedAfter,
  };
}

function printPlan(env: Env, p: PrunePlan, dryRun: boolean): void {
  const s = p.stats;
  const would = dryRun ? 'would ' : '';
  env.out.info(`${s.snapshots} snapshots use ${s.blobsUsed} blobs (${formatBytes(s.bytesUsed)}); ${s.blobsUnused} blobs (${formatBytes(s.bytesUnused)}) are unused`);
  env.out.info(`${would}delete ${p.deletePacks.length + p.unreferencedPacks.length} packs (${formatBytes(s.bytesToDelete)}), ${would}repack ${p.repackPacks.length} packs (${formatBytes(s.bytesToRepack)})`);
  env.out.info(`${dryRun ? 'would free' : 'frees'} ${formatBytes(s.bytesFreed)}; unused space left: ${formatBytes(s.bytesUnusedAfter)}`);
}
