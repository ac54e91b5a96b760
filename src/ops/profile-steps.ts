// The steps of a profile job after its backups: retention (forget, then prune) here and at each copy target,
// copies to other repositories, and the check when one is due. Each takes its lock, audit-logs what it
// changed, and throws when it fails (the job runner records the step as failed).

import { errorMessage, isRepoError, RepoError } from '../core/errors.js';
import { formatBytes, formatElapsed } from '../core/units.js';
import { checkRepository } from '../maintenance/check.js';
import { copyChunking, copySnapshots } from '../maintenance/copy.js';
import { executeForget, planForget } from '../maintenance/forget.js';
import { executePrune } from '../maintenance/prune-execute.js';
import { planPrune } from '../maintenance/prune-plan.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots } from '../snapshot/snapshot.js';
import { newestAudit, readAuditLog } from './audit.js';
import type { CopyTarget, ProfileConfig } from './config.js';
import type { Audit, JobLog, RunOptions } from './profile-job.js';
import { belongsToProfile, openProfileRepository, openTargetRepository, withLock } from './repos.js';

/** Forget per the profile's retention among the profile's snapshots, then prune (exclusive lock). */
export async function applyRetention(
  repo: Repository,
  profile: ProfileConfig,
  label: string,
  log: JobLog,
  audit: Audit,
  opts: RunOptions,
): Promise<void> {
  const ret = profile.retention!;
  await withLock(repo, true, { retryMs: profile.retryLockMs, signal: opts.signal }, async () => {
    const mine = belongsToProfile(profile);
    const candidates = (await listSnapshots(repo)).filter(mine);
    const plan = planForget(candidates, ret.policy, ret.groupBy, (opts.now ?? (() => new Date()))());
    let removed: string[] = [];
    try {
      removed = await executeForget(repo, plan, (locked) =>
        log.add(
          `${label}: ${locked.length} snapshot(s) kept under object lock until ${locked.map((l) => l.until).sort()[0]} or later`,
        ),
      );
    } catch (err) {
      await audit(repo, { operation: 'forget', result: 'failure', error: errorMessage(err) });
      throw err;
    }
    const kept = plan.groups.reduce((n, g) => n + g.keep.length, 0);
    log.add(`${label}: ${removed.length} snapshot${removed.length === 1 ? '' : 's'} removed, ${kept} kept`);
    if (removed.length > 0)
      await audit(repo, { operation: 'forget', result: 'success', snapshots: { removed }, details: { kept } });
    if (!ret.prune || removed.length === 0) return;
    const t0 = Date.now();
    try {
      const prunePlan = await planPrune(repo, { maxUnused: ret.maxUnused });
      const res = await executePrune(repo, prunePlan);
      log.add(
        `${label}: prune deleted ${res.packsDeleted} packs, repacked ${res.packsRepacked}, freed ${formatBytes(res.bytesFreed)}`,
      );
      await audit(repo, {
        operation: 'prune',
        result: 'success',
        details: {
          packs_deleted: res.packsDeleted,
          packs_repacked: res.packsRepacked,
          bytes_freed: res.bytesFreed,
          duration_seconds: (Date.now() - t0) / 1000,
        },
      });
    } catch (err) {
      await audit(repo, { operation: 'prune', result: 'failure', error: errorMessage(err) });
      throw err;
    }
  });
}

/** Copies the profile's snapshots that the target lacks, then applies the retention there too (unless disabled). */
export async function copyTo(
  src: Repository,
  profile: ProfileConfig,
  t: CopyTarget,
  log: JobLog,
  audit: Audit,
  opts: RunOptions,
): Promise<void> {
  let dst: Repository;
  try {
    dst = await openTargetRepository(profile, t, opts);
  } catch (err) {
    if (isRepoError(err, 'REPO_NOT_FOUND') || isRepoError(err, 'NOT_A_REPOSITORY')) {
      throw new RepoError(
        'REPO_NOT_FOUND',
        `copy target ${t.repository} is not a repository: create it once with "repo -r ${t.repository} init --copy-chunker-params --from-repo ${profile.repository}"`,
      );
    }
    throw err;
  }
  try {
    const lockOpts = { retryMs: profile.retryLockMs, signal: opts.signal };
    await withLock(src, false, lockOpts, () =>
      withLock(dst, false, lockOpts, async () => {
        const mine = (await listSnapshots(src)).filter(belongsToProfile(profile));
        const t0 = Date.now();
        try {
          // As `repo copy` does: a format-2 target with another chunker cuts every copied file again.
          const { sameChunker, rechunk } = copyChunking(src, dst);
          if (rechunk) log.add(`copy to ${t.repository}: the chunkers differ, so copied files are cut again there`);
          else if (!sameChunker)
            log.add(
              `copy to ${t.repository}: the chunker parameters differ, so its backups will not dedupe against the copies`,
            );
          const res = await copySnapshots(src, dst, mine, { rechunk, signal: opts.signal });
          log.add(
            `copy to ${t.repository}: ${res.copied.length} snapshots copied, ${res.skipped.length} already there, ${formatBytes(res.dataBytesAdded)} added`,
          );
          if (res.copied.length > 0) {
            await audit(dst, {
              operation: 'copy',
              result: 'success',
              snapshots: { added: res.copied.map((c) => c.destination) },
              details: {
                from: src.backend.location,
                data_added: res.dataBytesAdded,
                duration_seconds: (Date.now() - t0) / 1000,
              },
            });
            await audit(src, {
              operation: 'copy',
              result: 'success',
              snapshots: { read: res.copied.map((c) => c.source) },
              details: { to: dst.backend.location },
            });
          }
        } catch (err) {
          await audit(dst, {
            operation: 'copy',
            result: isRepoError(err, 'INTERRUPTED') ? 'interrupted' : 'failure',
            error: errorMessage(err),
            details: { from: src.backend.location },
          });
          throw err;
        }
      }),
    );
    if (t.retention && profile.retention)
      await applyRetention(dst, profile, `retention at ${t.repository}`, log, audit, opts);
  } finally {
    await dst.close().catch(() => undefined);
  }
}

/** Why a check is due now ("never checked", "last check 8d ago"), or undefined when it is not. */
export async function checkDue(
  repo: Repository,
  profile: ProfileConfig,
  now: Date,
  opts: RunOptions,
): Promise<string | undefined> {
  const every = profile.check?.everyMs;
  if (every === undefined) return 'every run';
  const log = await readAuditLog(repo, { stateDir: opts.stateDir });
  const last = newestAudit(
    log.entries,
    (e) => e.operation === 'check' && (e.result === 'success' || e.result === 'failure'),
  );
  if (last === undefined) return 'never checked';
  const age = now.getTime() - Date.parse(last.time);
  // Slack, so a daily job does not miss a weekly check by the few minutes its backup took.
  const slack = Math.min(every / 10, 3_600_000);
  return age >= every - slack ? `last check ${formatElapsed(age / 1000, 'short')} ago` : undefined;
}

/** check (with the profile's data subset) on a fresh, uncached handle; the read rate goes into the audit log for status. */
export async function runCheck(
  profile: ProfileConfig,
  log: JobLog,
  audit: Audit,
  opts: RunOptions,
  why: string,
): Promise<void> {
  log.add(`check: due (${why})`);
  const repo = await openProfileRepository(profile, opts, { skipIndex: true }, true);
  try {
    await withLock(repo, false, { retryMs: profile.retryLockMs, signal: opts.signal }, async () => {
      const c = profile.check;
      const t0 = Date.now();
      const report = await checkRepository(repo, {
        readData: c?.readData === true,
        subset: c?.subset,
        signal: opts.signal,
      });
      const d = report.readData;
      const details: Record<string, unknown> = {
        problems: report.problems.length,
        duration_seconds: (Date.now() - t0) / 1000,
        subset: c?.subsetText,
        read_data: c?.readData === true,
      };
      if (d) {
        Object.assign(details, {
          packs_read: d.packsRead,
          bytes_read: d.bytesRead,
          read_seconds: d.seconds,
          bytes_per_second: d.bytesPerSecond,
          rate_measured: d.rateMeasured,
          estimated_restore_seconds: d.estimatedRestoreSeconds,
        });
        log.add(`check: read ${d.packsRead} packs, ${formatBytes(d.bytesRead)} at ${formatBytes(d.bytesPerSecond)}/s`);
      }
      for (const p of report.problems.slice(0, 20)) log.add(`check: error: ${p.message}`);
      await audit(repo, {
        operation: 'check',
        result: report.ok ? 'success' : 'failure',
        error: report.ok ? undefined : `${report.problems.length} problems found`,
        details,
      });
      if (!report.ok)
        throw new RepoError(
          'INTEGRITY',
          `check found ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}; run "repo check" for details`,
        );
    });
  } finally {
    await repo.close().catch(() => undefined);
  }
}
