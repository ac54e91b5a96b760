// `repo restore SNAPSHOT[:PATH] --target DIR`: writes a snapshot (or a path inside it) back to the file system.
// Thin: flags become RestoreOptions for the restorer; progress on a terminal, a summary line at the end.

import type { Command } from 'commander';
import { compileRules, type ExcludeRule } from '../archiver/index.js';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import {
  restoreSnapshot,
  RestoreDamagedError,
  type OverwriteMode,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreResult,
} from '../restorer/index.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { addFilterFlags, Env, runtime, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { formatBytes, formatElapsed } from './format.js';
import { collect, splitSnapshotPath } from './parse.js';
import { RestoreLive } from './restore-live.js';

interface RestoreFlags extends FilterFlags {
  target: string;
  include?: string[];
  iinclude?: string[];
  exclude?: string[];
  iexclude?: string[];
  verify?: boolean;
  overwrite?: string;
  dryRun?: boolean;
  sparse?: boolean;
  devices?: boolean;
  stripSetuid?: boolean;
}

const OVERWRITE_MODES: OverwriteMode[] = ['always', 'if-changed', 'never'];

export function registerRestore(program: Command): void {
  const cmd = program
    .command('restore')
    .description('restore a snapshot, or a path inside it, into a directory')
    .argument('<snapshot[:path]>', 'snapshot id (or unique prefix) or "latest", optionally followed by :PATH inside it')
    .requiredOption('-t, --target <dir>', 'directory to restore into (created if missing)')
    .option('-i, --include <pattern>', 'only restore paths matching the pattern (repeatable)', collect)
    .option('--iinclude <pattern>', 'like --include, ignoring case (repeatable)', collect)
    .option('-e, --exclude <pattern>', 'do not restore paths matching the pattern (repeatable)', collect)
    .option('--iexclude <pattern>', 'like --exclude, ignoring case (repeatable)', collect)
    .option('--verify', 're-read every restored file and check it against the snapshot')
    .option('--overwrite <mode>', 'existing files: always, if-changed (size or mtime differ) or never', 'always')
    .option('-n, --dry-run', 'only count what would be restored')
    .option('--sparse', 'leave holes where file content is all zeros (the default; restic has it off by default)')
    .option('--no-sparse', 'write every zero byte: files take their full size on disk')
    .option('--no-devices', 'do not create block and character device nodes (as root they are created, as restic does)')
    .option('--strip-setuid', 'clear the setuid and setgid bits of restored files');
  addFilterFlags(cmd, collect).action((ref: string, flags: RestoreFlags, c: Command) =>
    runRestore(Env.from(c), ref, flags),
  );
}

/** Patterns match the path relative to the restore root, written with a leading "/" (so "/docs" is anchored). */
function matcher(
  plain: string[] | undefined,
  ignoreCase: string[] | undefined,
): ((rel: string) => boolean) | undefined {
  const rules: ExcludeRule[] = [
    ...(plain ?? []).map((pattern) => ({ pattern, ignoreCase: false })),
    ...(ignoreCase ?? []).map((pattern) => ({ pattern, ignoreCase: true })),
  ];
  if (rules.length === 0) return undefined;
  const m = compileRules(rules);
  return (rel) => m('/' + rel);
}

async function runRestore(env: Env, arg: string, flags: RestoreFlags): Promise<void> {
  const { out } = env;
  const overwrite = (flags.overwrite ?? 'always') as OverwriteMode;
  if (!OVERWRITE_MODES.includes(overwrite)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid --overwrite ${JSON.stringify(flags.overwrite)}: use always, if-changed or never`,
    );
  }
  const { ref, path: subPath } = splitSnapshotPath(arg);
  const live = new RestoreLive(out);
  const started = Date.now();
  const opts: RestoreOptions = {
    target: flags.target,
    subPath: subPath === undefined || subPath === '' ? undefined : subPath,
    include: matcher(flags.include, flags.iinclude),
    exclude: matcher(flags.exclude, flags.iexclude),
    overwrite,
    verify: flags.verify === true,
    dryRun: flags.dryRun === true,
    sparse: flags.sparse !== false,
    devices: flags.devices !== false,
    stripSetuid: flags.stripSetuid === true,
    signal: env.signal,
    onWarning: (w) => live.warning(w),
    onProgress: (p) => live.progress(p),
    onPlanning: (files, bytes) => live.planning(files, bytes),
  };
  live.start();
  const { sn, result, damage } = await withRepository(env, { workers: 0 }, async (repo) => {
    live.phase = 'finding the snapshot';
    const sn = await findSnapshot(repo, ref, snapshotFilter(flags));
    live.phase = "reading the snapshot's trees";
    try {
      return { sn, result: await restoreSnapshot(repo, sn, opts), damage: undefined };
    } catch (err) {
      // Everything else was restored: the summary is printed, then the error (exit 1) names the damaged paths.
      if (!(err instanceof RestoreDamagedError)) throw err;
      return { sn, result: err.result, damage: err };
    } finally {
      live.stop();
    }
  }).finally(() => live.stop());
  // Entries the snapshot's trees refuse, or give bad times, were each named in a warning (README, exit codes).
  if ((result.refused ?? 0) + (result.defaulted ?? 0) > 0) runtime.exitCode = 1;
  printSummary(env, flags, opts, sn.id, result, (Date.now() - started) / 1000, live.last);
  if (damage !== undefined) throw damage;
}

function printSummary(
  env: Env,
  flags: RestoreFlags,
  opts: RestoreOptions,
  snapshotId: string,
  result: RestoreResult,
  seconds: number,
  last?: RestoreProgress,
): void {
  const { out } = env;
  if (out.json) {
    // restic 0.17's summary keys first, then what restic does not have.
    const { filesTotal, damaged, ...counts } = result;
    out.printJson({
      message_type: 'summary',
      seconds_elapsed: Math.floor(seconds),
      total_files: filesTotal,
      files_restored: result.files + result.hardlinks,
      files_skipped: result.skipped,
      total_bytes: last?.bytesTotal ?? result.bytes,
      bytes_restored: opts.dryRun ? 0 : result.bytes,
      snapshot_id: snapshotId,
      target: flags.target,
      dry_run: opts.dryRun,
      ...counts,
      files_damaged: damaged,
      total_duration: seconds,
    });
    return;
  }
  const parts = [`${result.files} files`, `${result.dirs} dirs`];
  if (result.symlinks > 0) parts.push(`${result.symlinks} symlinks`);
  if (result.hardlinks > 0) parts.push(`${result.hardlinks} hard links`);
  if (result.specials > 0) parts.push(`${result.specials} special files`);
  const verb = opts.dryRun ? 'would restore' : 'restored';
  out.info(
    `${verb} ${parts.join(', ')}, ${formatBytes(result.bytes)} from snapshot ${shortId(snapshotId)} to ${flags.target} in ${formatElapsed(seconds)}`,
  );
  if (result.verified !== undefined) out.info(`verified ${result.verified} files`);
  if (result.skipped > 0) out.info(`left ${result.skipped} existing entries unchanged (--overwrite ${opts.overwrite})`);
  // Restored as stored, like restic, but not without a word: a snapshot from elsewhere can hold either.
  const privileged = [];
  if (result.devices > 0) privileged.push(`${result.devices} device nodes`);
  if (result.setuid > 0) privileged.push(`${result.setuid} setuid/setgid files`);
  if (privileged.length > 0)
    out.info(
      `${verb} ${privileged.join(' and ')} as the snapshot holds them (--no-devices, --strip-setuid leave them out)`,
    );
  if (result.stripped > 0) out.info(`cleared the setuid/setgid bits of ${result.stripped} files (--strip-setuid)`);
  if (result.warnings > 0) out.info(`${result.warnings} warnings`);
}
