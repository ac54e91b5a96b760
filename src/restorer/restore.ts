// Entry point of a restore: validates options, builds the context, plans, then executes (or only counts for a dry run).
// Must never write anything before the whole plan (and so every tree's names) has been checked.

import path from 'node:path';
import { isRepoError, RepoError } from '../core/errors.js';
import { collectAllGarbage } from '../core/worker-gc.js';
import type { Repository } from '../repository/repository.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import { storedPath } from './resolve.js';
import { displayName } from '../tree/node.js';
import { executePlan } from './execute.js';
import { planRestore, type RestorePlan } from './plan.js';
import { RestorePool } from './restore-pool.js';
import {
  DEFAULT_CONCURRENCY,
  RestoreDamagedError,
  SETID,
  type DamagedFile,
  type RestoreContext,
  type RestoreOptions,
  type RestoreResult,
} from './types.js';

const PROGRESS_INTERVAL_MS = 100;

function createContext(repo: Repository, opts: RestoreOptions): RestoreContext {
  if (typeof opts.target !== 'string' || opts.target === '')
    throw new RepoError('INVALID_ARGUMENT', 'a restore needs a target directory');
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RepoError('INVALID_ARGUMENT', `concurrency must be a positive integer, not ${String(concurrency)}`);
  }
  if (opts.workers !== undefined && (!Number.isSafeInteger(opts.workers) || opts.workers < 0)) {
    throw new RepoError('INVALID_ARGUMENT', `workers must be a non-negative integer, not ${String(opts.workers)}`);
  }
  const overwrite = opts.overwrite ?? 'always';
  if (!['always', 'if-changed', 'never'].includes(overwrite)) {
    throw new RepoError('INVALID_ARGUMENT', `unknown overwrite mode ${JSON.stringify(overwrite)}`);
  }
  let last = 0;
  const ctx: RestoreContext = {
    repo,
    opts,
    overwrite,
    target: Buffer.from(path.resolve(opts.target), 'utf8'),
    isRoot: process.getuid?.() === 0,
    result: {
      files: 0,
      dirs: 0,
      symlinks: 0,
      hardlinks: 0,
      specials: 0,
      bytes: 0,
      skipped: 0,
      warnings: 0,
      devices: 0,
      setuid: 0,
      stripped: 0,
      filesTotal: 0,
      damaged: 0,
    },
    progress: { filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0 },
    warn(p, message, cause) {
      ctx.result.warnings++;
      opts.onWarning?.({ path: typeof p === 'string' ? p : displayName(p), message, cause });
    },
    damaged: [],
    damage(p, err) {
      // Damaged, missing or cut-short stored bytes; anything else (the file system, an outage, an abort) stops the restore.
      const short = isRepoError(err, 'BACKEND') && err.context.reason === 'short';
      if (!isRepoError(err) || (!short && !['INTEGRITY', 'NOT_FOUND', 'FORMAT'].includes(err.code))) return undefined;
      const d: DamagedFile = {
        path: displayName(p),
        item: displayName(p.subarray(ctx.target.length)),
        blob: err.context.blob,
        pack: err.context.pack,
        file: err.context.file,
        message: err.message,
      };
      ctx.damaged.push(d);
      ctx.result.damaged++;
      ctx.result.warnings++;
      opts.onWarning?.({ path: d.path, message: `damaged, not restored: ${err.message}`, cause: err, damaged: d });
      return d;
    },
    reportProgress(final = false) {
      if (opts.onProgress === undefined) return;
      const now = Date.now();
      if (!final && now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      opts.onProgress({ ...ctx.progress });
    },
    checkAborted() {
      if (opts.signal?.aborted)
        throw new RepoError('INTERRUPTED', 'restore aborted', { path: opts.target }, { cause: opts.signal.reason });
    },
  };
  return ctx;
}

/** A dry run reports what the plan would create, without looking at the target. */
function countPlan(ctx: RestoreContext, plan: RestorePlan): void {
  const r = ctx.result;
  r.dirs = plan.dirs.length;
  r.files = plan.files.count;
  r.hardlinks = plan.hardlinks.length;
  r.bytes = plan.bytesTotal;
  for (const e of plan.others) {
    if (e.node.type === 'symlink') r.symlinks++;
    else if (e.node.type === 'fifo') r.specials++;
    else if (ctx.isRoot && ctx.opts.devices !== false) {
      r.specials++;
      r.devices++;
    }
  }
  for (let i = 0; i < plan.files.count; i++)
    if ((plan.files.mode(i) & SETID) !== 0) r[ctx.opts.stripSetuid ? 'stripped' : 'setuid']++;
  ctx.progress.filesDone = plan.filesTotal;
  ctx.progress.bytesDone = plan.bytesTotal;
}

/** Restores a snapshot (or opts.subPath inside it) into opts.target. See RestoreOptions for the knobs. */
export async function restoreSnapshot(
  repo: Repository,
  snapshot: StoredSnapshot,
  opts: RestoreOptions,
): Promise<RestoreResult> {
  // subPath is a path as backed up; a last-component snapshot stores it under another name (spec §10).
  const ctx = createContext(
    repo,
    opts.subPath === undefined ? opts : { ...opts, subPath: storedPath(snapshot, opts.subPath) },
  );
  ctx.checkAborted();
  // Threads start while the trees are walked, as soon as the plan is large enough to need them.
  const pool = opts.dryRun
    ? undefined
    : new RestorePool(
        repo.key,
        { overwrite: ctx.overwrite, isRoot: ctx.isRoot, umask: process.umask(), sparse: opts.sparse ?? true },
        opts.workers,
      );
  try {
    const plan = await planRestore(
      ctx,
      snapshot.tree,
      (files, bytes) => {
        pool?.sized(files, bytes);
        opts.onPlanning?.(files, bytes);
      },
      snapshot.id,
    );
    repo.clearTreePackCache(); // the plan holds all it needs from the trees; their packs would sit in memory
    plan.files.trim();
    if (opts.stripSetuid && !opts.dryRun) ctx.result.stripped = plan.files.clearModeBits(SETID);
    // The tree packs and the trees decoded while planning are garbage now, much of it in the old generation,
    // and writing files allocates too little on this thread for V8 to collect it: 30-60 MiB held for the
    // whole restore of the kernel tree otherwise.
    collectAllGarbage();
    pool?.sized(plan.files.count, plan.bytesTotal);
    ctx.progress.filesTotal = plan.filesTotal;
    ctx.result.filesTotal = plan.filesTotal;
    ctx.progress.bytesTotal = plan.bytesTotal;
    if (pool === undefined) countPlan(ctx, plan);
    else await executePlan(ctx, plan, pool);
  } finally {
    await pool?.close();
  }
  ctx.reportProgress(true);
  if (ctx.damaged.length > 0) throw new RestoreDamagedError(ctx.result, ctx.damaged);
  return ctx.result;
}
