// Runs one profile's job once: before hooks, file backup, database dumps streamed into the repository,
// after hooks, retention (forget, prune), copies to other repositories, a check when one is due, and
// on-failure/finally hooks; healthcheck and webhook pings around it. Every change is audit-logged.
// A failing before hook or dump fails the job; the steps after the backup then do not run.

import { readFile } from 'node:fs/promises';
import {
  backupPaths,
  backupStream,
  findParent,
  parseExcludeFile,
  StatPrefetch,
  type BackupOptions,
  type BackupResult,
  type ExcludeRule,
} from '../archiver/index.js';
import { errorMessage, isRepoError, RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { formatBytes, formatElapsed } from '../core/units.js';
import type { Repository } from '../repository/repository.js';
import { tryAppendAudit, type AuditRecord } from './audit.js';
import type { ProfileConfig } from './config.js';
import { childEnv } from '../core/child-env.js';
import { dumpCommand } from './dumps.js';
import { baseBackupInfo, StreamTail } from './pg-base-info.js';
import { commandStream, describeExit, runShell } from './exec.js';
import { Monitor } from './monitor.js';
import { JobLog, type RunOptions } from './profile-job.js';
import { applyRetention, checkDue, copyTo, runCheck } from './profile-steps.js';
import { dirCacheDirOf, openProfileRepository, profileHost, withLock } from './repos.js';
import { withProfileEnvironment } from './profile-env.js';

export type { RunOptions } from './profile-job.js';

export type StepStatus = 'ok' | 'failed' | 'skipped' | 'partial';

export interface StepResult {
  step: string;
  status: StepStatus;
  message?: string;
  seconds: number;
  snapshot?: string;
}

export type JobStatus = 'success' | 'partial' | 'failure' | 'interrupted';

export interface JobResult {
  profile: string;
  status: JobStatus;
  /** 0 success, 3 partial (some source files unreadable), 1 failure, 130 interrupted. */
  exitCode: number;
  started: Date;
  seconds: number;
  steps: StepResult[];
  /** Snapshots saved by this run. */
  snapshots: string[];
  bytesAdded: number;
  error?: string;
  log: string[];
}

const EXIT: Record<JobStatus, number> = { success: 0, partial: 3, failure: 1, interrupted: 130 };

class StepFailure extends Error {}

/** The profile's exclude patterns, its exclude files' lines after its own. */
async function profileExcludes(profile: ProfileConfig): Promise<ExcludeRule[]> {
  const excludes: ExcludeRule[] = profile.exclude.map((pattern) => ({ pattern, ignoreCase: false }));
  for (const f of profile.excludeFile) {
    for (const pattern of parseExcludeFile(await readFile(f, 'utf8'))) excludes.push({ pattern, ignoreCase: false });
  }
  return excludes;
}

/** Starts listing the sources ahead of the backup, with its exclusions; none if they cannot be read yet (the backup step reports why). */
async function prefetchSources(profile: ProfileConfig): Promise<StatPrefetch | undefined> {
  if (profile.sources.length === 0) return undefined;
  try {
    const excludes = await profileExcludes(profile);
    return StatPrefetch.start(profile.sources, { excludes, oneFileSystem: profile.oneFileSystem });
  } catch {
    return undefined;
  }
}

/** Runs one job of `profile`. Never throws for a failing step: the result says what happened. */
export async function runProfile(profile: ProfileConfig, opts: RunOptions = {}): Promise<JobResult> {
  // The profile's env / env-file (e.g. S3 credentials) hold for the whole job; an unreadable env-file fails it.
  const started = (opts.now ?? (() => new Date()))();
  try {
    return await withProfileEnvironment(profile, () => runProfileJob(profile, opts));
  } catch (err) {
    if (!(isRepoError(err) && err.context.file === profile.envFile)) throw err;
    const error = errorMessage(err);
    return {
      profile: profile.name,
      status: 'failure',
      exitCode: 1,
      started,
      seconds: 0,
      steps: [],
      snapshots: [],
      bytesAdded: 0,
      error,
      log: [`profile ${profile.name}: failure — ${error}`],
    };
  }
}

async function runProfileJob(profile: ProfileConfig, opts: RunOptions): Promise<JobResult> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const log = new JobLog(profile.name, opts.onLog);
  const steps: StepResult[] = [];
  const snapshots: string[] = [];
  let bytesAdded = 0;
  let partial = false;
  let failed: string | undefined;
  const monitor = new Monitor(profile.monitoring, profile.name, (m) => log.add(`warning: ${m}`), opts.fetch);
  const auditOpts = { stateDir: opts.stateDir, now };
  const audit = (repo: Repository, rec: AuditRecord) =>
    tryAppendAudit(repo, { ...rec, profile: profile.name }, (m) => log.add(`warning: ${m}`), auditOpts);
  const interrupted = () => opts.signal?.aborted === true;
  const hookEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    return childEnv(opts.env ?? process.env, { REPO_PROFILE: profile.name, ...extra }); // no repository password variables
  };

  /** Runs a step, recording its outcome; a failure is recorded and rethrown as StepFailure when `fatal`. */
  const step = async <T>(name: string, fn: () => Promise<T>, opt: { fatal?: boolean } = {}): Promise<T | undefined> => {
    const t0 = Date.now();
    log.add(`${name}: started`);
    try {
      const r = await fn();
      const last = steps[steps.length - 1];
      if (last?.step !== name) steps.push({ step: name, status: 'ok', seconds: (Date.now() - t0) / 1000 });
      log.add(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return r;
    } catch (err) {
      const message = errorMessage(err);
      steps.push({ step: name, status: 'failed', message, seconds: (Date.now() - t0) / 1000 });
      log.add(`${name}: FAILED: ${message}`);
      failed ??= `${name}: ${message}`;
      if (opt.fatal !== false) throw new StepFailure(message);
      return undefined;
    }
  };

  const runHooks = async (kind: string, commands: string[], env: NodeJS.ProcessEnv, fatal: boolean) => {
    for (const [i, cmd] of commands.entries()) {
      await step(
        `hook ${kind}${commands.length > 1 ? ` #${i + 1}` : ''}`,
        async () => {
          log.add(`$ ${cmd}`);
          const r = await runShell(cmd, {
            timeoutMs: profile.hooks.timeoutMs,
            env,
            signal: kind === 'finally' || kind === 'on-failure' ? undefined : opts.signal,
            log: (l) => log.add(`  ${l}`),
          });
          if (r.code !== 0 || r.error)
            throw new RepoError(
              'COMMAND_FAILED',
              `${kind} hook "${cmd}" ${describeExit(r, formatElapsed(profile.hooks.timeoutMs / 1000, 'short'))}`,
            );
        },
        { fatal },
      );
    }
  };

  log.add(`job started (repository ${profile.repository})`);
  await monitor.notify('start');
  let repo: Repository | undefined;
  let prefetch: StatPrefetch | undefined;
  try {
    await runHooks('before', profile.hooks.before, hookEnv(), true);
    // After the hooks (they may mount the sources): listed while the key is derived (archiver/stat-prefetch.ts).
    prefetch = await prefetchSources(profile);
    repo = await step('open repository', () =>
      openProfileRepository(profile, opts, {
        compression: profile.compression,
        // one thread for the key while this one lists (as repo backup does)
        kdfThreads: { callerBusy: () => prefetch?.done === false },
        onWarning: (m) => log.add(`warning: ${m}`),
      }),
    );
    prefetch?.stop(); // the key is derived: the walk lists the rest itself
    const r = repo!;

    // 1. Backup: files, then each database as its own snapshot. A failing dump fails the job but the others still run.
    await withLock(r, false, { retryMs: profile.retryLockMs, signal: opts.signal }, async () => {
      const base: BackupOptions = {
        tags: profile.tags,
        host: profile.host,
        signal: opts.signal,
        oneFileSystem: profile.oneFileSystem,
      };
      if (profile.sources.length > 0) {
        await step(
          'backup',
          async () => {
            const excludes = await profileExcludes(profile);
            const parent = await findParent(r, {
              hostname: profileHost(profile),
              paths: profile.sources,
              tags: profile.tags,
            });
            const t0 = Date.now();
            const before = { ...r.stats };
            let res: BackupResult;
            try {
              res = await backupPaths(r, profile.sources, {
                ...base,
                excludes,
                parent,
                dirCacheDir: dirCacheDirOf(profile, opts, r.config.id),
                prefetch,
                onWarning: (w) => log.add(`warning: ${w.path}: ${w.message}`),
              });
            } catch (err) {
              if (isRepoError(err, 'INTERRUPTED')) await r.abort().catch(() => undefined);
              await audit(r, {
                operation: 'backup',
                result: isRepoError(err, 'INTERRUPTED') ? 'interrupted' : 'failure',
                error: errorMessage(err),
                details: { paths: profile.sources },
              });
              throw err;
            }
            const added = r.stats.rawBytesAdded - before.rawBytesAdded;
            bytesAdded += added;
            const skipped = res.warnings.filter((w) => w.skipped).length;
            if (skipped > 0) partial = true;
            snapshots.push(res.snapshotId!);
            const s = res.snapshot.summary!;
            await audit(r, {
              operation: 'backup',
              result: skipped > 0 ? 'partial' : 'success',
              snapshots: { added: [res.snapshotId!] },
              details: {
                paths: profile.sources,
                data_added: s.data_added,
                data_added_packed: s.data_added_packed,
                total_files_processed: s.total_files_processed,
                total_bytes_processed: s.total_bytes_processed,
                duration_seconds: (Date.now() - t0) / 1000,
              },
            });
            log.add(
              `snapshot ${shortId(res.snapshotId!)} saved: ${s.total_files_processed} files, ${formatBytes(s.total_bytes_processed)} processed, ${formatBytes(s.data_added)} added` +
                (skipped > 0 ? `; ${skipped} files could not be read` : ''),
            );
            steps.push({
              step: 'backup',
              status: skipped > 0 ? 'partial' : 'ok',
              seconds: (Date.now() - t0) / 1000,
              snapshot: res.snapshotId,
              message: skipped > 0 ? `${skipped} source files could not be read` : undefined,
            });
          },
          { fatal: false },
        );
      }
      for (const db of profile.databases) {
        if (interrupted()) break;
        await step(
          `dump ${db.type} ${db.name}`,
          async () => {
            const cmd = await dumpCommand(db, opts.env ?? process.env);
            log.add(`$ ${cmd.argv.join(' ')} | repo backup --stdin-filename ${db.filename}`);
            const t0 = Date.now();
            const before = { ...r.stats };
            let streamed = 0;
            const source = commandStream(cmd.argv, {
              env: cmd.env,
              signal: opts.signal,
              log: (l) => log.add(`  ${l}`),
              what: `dump of ${db.type} database ${db.name}`,
            });
            const tail = db.mode === 'physical' ? new StreamTail() : undefined;
            const counted = (async function* () {
              for await (const c of source) {
                streamed += c.length;
                tail?.push(c);
                yield c;
              }
            })();
            let res: BackupResult;
            try {
              res = await backupStream(
                r,
                counted,
                db.filename,
                tail === undefined
                  ? base
                  : { ...base, summaryExtra: () => baseBackupInfo(db, tail, cmd.env, (l) => log.add(l)) },
              );
            } catch (err) {
              if (isRepoError(err, 'INTERRUPTED')) await r.abort().catch(() => undefined);
              await audit(r, {
                operation: 'backup',
                result: isRepoError(err, 'INTERRUPTED') ? 'interrupted' : 'failure',
                error: errorMessage(err),
                details: { database: db.name, type: db.type, file: db.filename },
              });
              throw err;
            }
            bytesAdded += r.stats.rawBytesAdded - before.rawBytesAdded;
            snapshots.push(res.snapshotId!);
            const s = res.snapshot.summary!;
            await audit(r, {
              operation: 'backup',
              result: 'success',
              snapshots: { added: [res.snapshotId!] },
              details: {
                database: db.name,
                type: db.type,
                paths: ['/' + db.filename],
                data_added: s.data_added,
                data_added_packed: s.data_added_packed,
                total_bytes_processed: streamed,
                duration_seconds: (Date.now() - t0) / 1000,
              },
            });
            log.add(
              `snapshot ${shortId(res.snapshotId!)} saved: ${db.filename}, ${formatBytes(streamed)} dumped, ${formatBytes(s.data_added)} added`,
            );
          },
          { fatal: false },
        );
      }
    });
    if (interrupted()) throw new RepoError('INTERRUPTED', 'job interrupted');
    if (failed !== undefined) throw new StepFailure(failed);

    await runHooks('after', profile.hooks.after, hookEnv({ REPO_SNAPSHOTS: snapshots.join(' ') }), true);

    // 2. Retention on the repository.
    if (profile.retention) await step('forget', () => applyRetention(r, profile, 'forget', log, audit, opts));

    // 3. Copies; a failed target does not stop the others. A prune may have moved blobs to other packs:
    // the copy reads through a handle with a freshly loaded index.
    if (profile.copyTo.length > 0) {
      const reader = await r.sibling({ workers: 0 });
      try {
        for (const t of profile.copyTo) {
          if (interrupted()) break;
          await step(`copy to ${t.repository}`, () => copyTo(reader, profile, t, log, audit, opts), { fatal: false });
        }
      } finally {
        await reader.close().catch(() => undefined);
      }
    }
    if (interrupted()) throw new RepoError('INTERRUPTED', 'job interrupted');

    // 4. Check, when due.
    if (!opts.skipCheck && (profile.check !== undefined || opts.forceCheck)) {
      const due = opts.forceCheck ? 'forced' : await checkDue(r, profile, now(), opts);
      if (due === undefined) steps.push({ step: 'check', status: 'skipped', message: 'not due yet', seconds: 0 });
      else await step('check', () => runCheck(profile, log, audit, opts, due), { fatal: false });
    }
    if (failed !== undefined) throw new StepFailure(failed);
  } catch (err) {
    if (!(err instanceof StepFailure)) {
      failed ??= errorMessage(err);
      if (!isRepoError(err, 'INTERRUPTED')) log.add(`FAILED: ${errorMessage(err)}`);
    }
  }
  prefetch?.stop(); // when the job failed before its backup began

  const status: JobStatus = interrupted()
    ? 'interrupted'
    : failed !== undefined
      ? 'failure'
      : partial
        ? 'partial'
        : 'success';
  const failure = failed; // a failing on-failure or finally hook is logged, it does not change the outcome
  if (repo !== undefined) {
    // One entry per job, so status can tell the last (successful) run of this profile from the repository alone.
    await audit(repo, {
      operation: 'job',
      result: status,
      error: failed,
      snapshots: snapshots.length > 0 ? { added: snapshots } : undefined,
      details: {
        duration_seconds: (now().getTime() - started.getTime()) / 1000,
        bytes_added: bytesAdded,
        steps: steps.map((s) => `${s.step}: ${s.status}`),
      },
    });
    await repo.close().catch(() => undefined);
  }
  if (status === 'failure' || status === 'interrupted') {
    await runHooks(
      'on-failure',
      profile.hooks.onFailure,
      hookEnv({ REPO_JOB_STATUS: status, REPO_ERROR: failed ?? 'interrupted' }),
      false,
    ).catch(() => undefined);
  }
  await runHooks(
    'finally',
    profile.hooks.finally,
    hookEnv({ REPO_JOB_STATUS: status, REPO_SNAPSHOTS: snapshots.join(' ') }),
    false,
  ).catch(() => undefined);
  const seconds = (now().getTime() - started.getTime()) / 1000;
  const summary =
    `profile ${profile.name}: ${status}` +
    (snapshots.length > 0
      ? `, ${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'} saved, ${formatBytes(bytesAdded)} added`
      : '') +
    (failure !== undefined ? ` — ${failure}` : '');
  log.add(`job finished: ${summary} (${seconds.toFixed(1)} s)`);
  const report = {
    status,
    exitCode: EXIT[status],
    seconds,
    summary,
    snapshots,
    logTail: log.tail(profile.monitoring.logLines),
  };
  await monitor.notify(status === 'success' || status === 'partial' ? 'success' : 'failure', report);
  return {
    profile: profile.name,
    status,
    exitCode: EXIT[status],
    started,
    seconds,
    steps,
    snapshots,
    bytesAdded,
    error: failure,
    log: log.lines,
  };
}
