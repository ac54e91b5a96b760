// `repo restore SNAPSHOT[:PATH] --target DIR`: writes a snapshot (or a path inside it) back to the file system.
// Thin: flags become RestoreOptions for the restorer; progress on a terminal, a summary line at the end.

import type { Command } from 'commander';
import { compileRules, type ExcludeRule } from '../archiver/index.js';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { restoreSnapshot, type OverwriteMode, type RestoreOptions } from '../restorer/index.js';
import { findSnapshot } from '../snapshot/snapshot.js';
import { addFilterFlags, Env, runtime, snapshotFilter, withRepository, type FilterFlags } from './context.js';
import { formatBytes, formatDuration } from './format.js';
import { collect, splitSnapshotPath } from './parse.js';
import { describeProgress, ProgressLine } from './progress.js';

interface RestoreFlags extends FilterFlags {
  target: string;
  include?: string[];
  iinclude?: string[];
  exclude?: string[];
  iexclude?: string[];
  verify?: boolean;
  overwrite?: string;
  dryRun?: boolean;
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
    .option('-n, --dry-run', 'only count what would be restored');
  addFilterFlags(cmd, collect).action((ref: string, flags: RestoreFlags, c: Command) => runRestore(Env.from(c), ref, flags));
}

/** Patterns match the path relative to the restore root, written with a leading "/" (so "/docs" is anchored). */
function matcher(plain: string[] | undefined, ignoreCase: string[] | undefined): ((rel: string) => boolean) | undefined {
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
    throw new RepoError('INVALID_ARGUMENT', `invalid --overwrite ${JSON.stringify(flags.overwrite)}: use always, if-changed or never`);
  }
  const { ref, path: subPath } = splitSnapshotPath(arg);
  const progress = new ProgressLine(out.progress);
  const started = Date.now();
  const opts: RestoreOptions = {
    target: flags.target,
    subPath: subPath === undefined || subPath === '' ? undefined : subPath,
    include: matcher(flags.include, flags.iinclude),
    exclude: matcher(flags.exclude, flags.iexclude),
    overwrite,
    verify: flags.verify === true,
    dryRun: flags.dryRun === true,
    signal: env.signal,
    onWarning: (w) => {
      progress.clear();
      out.warn(`${w.path}: ${w.message}`);
    },
  };
  if (out.progress) {
    let first: number | undefined; // rates count from the first report, after opening and planning
    opts.onProgress = (p) => {
      first ??= Date.now();
      progress.update(describeProgress({ ...p, elapsedMs: Date.now() - first, totalsFinal: true }));
    };
  }
  const { sn, result } = await withRepository(env, { workers: 0 }, async (repo) => {
    const sn = await findSnapshot(repo, ref, snapshotFilter(flags));
    try {
      return { sn, result: await restoreSnapshot(repo, sn, opts) };
    } finally {
      progress.clear();
    }
  });
  const seconds = (Date.now() - started) / 1000;
  // Entries the snapshot's trees refuse, or give bad times, were each named in a warning (README, exit codes).
  if ((result.refused ?? 0) + (result.defaulted ?? 0) > 0) runtime.exitCode = 1;
  if (out.json) {
    out.printJson({ message_type: 'summary', snapshot_id: sn.id, target: flags.target, dry_run: opts.dryRun, ...result, total_duration: seconds });
    return;
  }
  const parts = [`${result.files} files`, `${result.dirs} dirs`];
  if (result.symlinks > 0) parts.push(`${result.symlinks} symlinks`);
  if (result.hardlinks > 0) parts.push(`${result.hardlinks} hard links`);
  if (result.specials > 0) parts.push(`${result.specials} special files`);
  const verb = opts.dryRun ? 'would restore' : 'restored';
  out.info(`${verb} ${parts.join(', ')}, ${formatBytes(result.bytes)} from snapshot ${shortId(sn.id)} to ${flags.target} in ${formatDuration(seconds)}`);
  if (result.verified !== undefined) out.info(`verified ${result.verified} files`);
  if (result.skipped > 0) out.info(`left ${result.skipped} existing entries unchanged (--overwrite ${overwrite})`);
  if (result.warnings > 0) out.info(`${result.warnings} warnings`);
}
