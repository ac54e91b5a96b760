// `repo backup`: saves paths, standard input or a command's output as a new snapshot.
// Exit status 3 when the snapshot was saved but some source files could not be read.

import { spawn } from 'node:child_process';
import { childEnv } from '../core/child-env.js';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { extendSnapshotLocks } from '../maintenance/object-lock.js';
import {
  backupPaths,
  backupStream,
  describeFsError,
  CACHEDIR_TAG_SPEC,
  findParent,
  invalidPatterns,
  parseExcludeFile,
  parseTagFileSpec,
  readFilesFrom,
  StatPrefetch,
  type ArchiverRepo,
  type BackupOptions,
  type BackupResult,
  type ExcludeRule,
  type GroupBy,
} from '../archiver/index.js';
import { defaultCacheDir } from '../backend/index.js';
import { findSnapshot, type StoredSnapshot } from '../snapshot/snapshot.js';
import { isRepoError, RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { validateCompression } from '../repository/compression.js';
import type { Repository } from '../repository/repository.js';
import { Env, EXIT_PARTIAL, runtime, withRepository } from './context.js';
import { formatBytes, formatElapsed } from './format.js';
import { collect, flattenTags, parseSize, parseTime } from './parse.js';
import { BackupLive } from './backup-live.js';

interface BackupFlags {
  tag?: string[];
  host?: string;
  time?: string;
  exclude?: string[];
  iexclude?: string[];
  excludeFile?: string[];
  iexcludeFile?: string[];
  excludeIfPresent?: string[];
  excludeCaches?: boolean;
  excludeLargerThan?: string;
  filesFrom?: string[];
  filesFromVerbatim?: string[];
  filesFromRaw?: string[];
  oneFileSystem?: boolean;
  stdin?: boolean;
  stdinFilename?: string;
  stdinFromCommand?: boolean;
  compression?: string;
  dryRun?: boolean;
  parent?: string;
  groupBy?: string;
  force?: boolean;
  ignoreInode?: boolean;
  ignoreCtime?: boolean;
}

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description("create a new snapshot of files and directories, standard input or a command's output")
    .argument(
      '[paths...]',
      'files and directories to back up (with --stdin-from-command: the command and its arguments, after --)',
    )
    .option('--tag <tags>', 'add tags to the snapshot, comma-separated (repeatable)', collect)
    .option('--host <hostname>', "record this host name instead of the machine's")
    .option('--time <time>', 'record this time instead of now ("YYYY-MM-DD HH:MM:SS" local time, or RFC 3339)')
    .option('-e, --exclude <pattern>', 'exclude paths matching the pattern (repeatable)', collect)
    .option('--iexclude <pattern>', 'like --exclude, ignoring case (repeatable)', collect)
    .option('--exclude-file <file>', 'read exclude patterns from a file, one per line (repeatable)', collect)
    .option('--iexclude-file <file>', 'like --exclude-file, ignoring case (repeatable)', collect)
    .option(
      '--exclude-if-present <file[:header]>',
      'keep only FILE of a directory that holds FILE (starting with HEADER, if given) (repeatable)',
      collect,
    )
    .option('--exclude-caches', 'keep only CACHEDIR.TAG of directories tagged as caches (https://bford.info/cachedir/)')
    .option('--exclude-larger-than <size>', 'leave out files larger than SIZE (suffixes K, M, G, T: powers of 1024)')
    .option(
      '--files-from <file>',
      'back up the paths listed in FILE, one glob per line, "-" for standard input (repeatable)',
      collect,
    )
    .option(
      '--files-from-verbatim <file>',
      'like --files-from, but each line is a path taken literally (repeatable)',
      collect,
    )
    .option(
      '--files-from-raw <file>',
      'like --files-from-verbatim, with paths separated by NUL bytes (repeatable)',
      collect,
    )
    .option('-x, --one-file-system', 'do not descend into directories on other file systems')
    .option('--stdin', 'back up standard input as one file')
    .option('--stdin-filename <name>', 'file name for --stdin / --stdin-from-command', 'stdin')
    .option(
      '--stdin-from-command',
      'run the command given after -- and back up its standard output; fails if it exits non-zero',
    )
    .option('--compression <mode>', 'compression for this backup: auto, off, max or a zstd level 1-22')
    .option('-n, --dry-run', 'read and chunk everything, but store nothing')
    .option('--parent <snapshot>', 'compare with this snapshot instead of the newest one of the same host and paths')
    .option(
      '--group-by <fields>',
      'which snapshots count as earlier runs of this backup, for finding the parent: host, paths, tags',
      'host,paths',
    )
    .option('-f, --force', 're-read every file, even those unchanged since the parent snapshot')
    .option('--ignore-inode', 'do not compare inode numbers with the parent (for file systems without stable inodes)')
    .option('--ignore-ctime', 'do not compare ctimes with the parent')
    .addHelpText(
      'after',
      '\nExamples:\n  repo backup ~/work --tag daily --exclude "*.tmp"\n  repo backup --stdin-from-command --stdin-filename db.sql -- pg_dump mydb',
    )
    .action((paths: string[], flags: BackupFlags, cmd: Command) => runBackup(Env.from(cmd), paths, flags));
}

/** Patterns of exclude files in order; an unreadable file or a malformed pattern fails before anything is written. */
async function readExcludeFiles(
  flag: string,
  files: string[] | undefined,
  ignoreCase: boolean,
): Promise<ExcludeRule[]> {
  const rules: ExcludeRule[] = [];
  for (const f of files ?? []) {
    let data: Buffer;
    try {
      data = await readFile(f);
    } catch (err) {
      throw new RepoError('INVALID_ARGUMENT', `${flag}: cannot read ${f}: ${describeFsError(err)}`, { path: f });
    }
    const patterns = parseExcludeFile(data);
    checkPatterns(`${flag} ${f}`, ignoreCase ? patterns.map((p) => p.toLowerCase()) : patterns);
    for (const pattern of patterns) rules.push({ pattern, ignoreCase });
  }
  return rules;
}

function checkPatterns(what: string, patterns: string[]): void {
  const bad = invalidPatterns(patterns);
  if (bad.length > 0) {
    const list = bad.map((b) => JSON.stringify(b)).join(', ');
    throw new RepoError(
      'INVALID_ARGUMENT',
      `${what}: invalid pattern ${list}: expected globs as Go's filepath.Match takes them (a "[" needs its "]", a "\\" a character after it)`,
    );
  }
}

/** The exclude rules in restic's order: each list's flags first, then its files' lines (rewrite uses them too). */
export async function excludeRules(
  flags: Pick<BackupFlags, 'exclude' | 'iexclude' | 'excludeFile' | 'iexcludeFile'>,
): Promise<ExcludeRule[]> {
  checkPatterns('--exclude', flags.exclude ?? []);
  checkPatterns(
    '--iexclude',
    (flags.iexclude ?? []).map((p) => p.toLowerCase()),
  );
  return [
    ...(flags.exclude ?? []).map((pattern) => ({ pattern, ignoreCase: false })),
    ...(await readExcludeFiles('--exclude-file', flags.excludeFile, false)),
    ...(flags.iexclude ?? []).map((pattern) => ({ pattern, ignoreCase: true })),
    ...(await readExcludeFiles('--iexclude-file', flags.iexcludeFile, true)),
  ];
}

/** --files-from*: targets that exist; the ones that do not are warned about and make the backup partial. */
function filesFromTargets(env: Env, flags: BackupFlags): { targets: string[]; missing: number } {
  const lists = [
    ...(flags.filesFrom ?? []).map((file) => ({ kind: 'files-from' as const, file })),
    ...(flags.filesFromVerbatim ?? []).map((file) => ({ kind: 'files-from-verbatim' as const, file })),
    ...(flags.filesFromRaw ?? []).map((file) => ({ kind: 'files-from-raw' as const, file })),
  ];
  if (lists.length === 0) return { targets: [], missing: 0 };
  const { targets, missing } = readFilesFrom(lists);
  for (const m of missing) env.out.warn(`${m.target}: ${m.message}`);
  return { targets, missing: missing.length };
}

async function runBackup(env: Env, args: string[], flags: BackupFlags): Promise<void> {
  const { out } = env;
  const stdinMode = flags.stdin === true;
  const commandMode = flags.stdinFromCommand === true;
  if (stdinMode && commandMode)
    throw new RepoError('INVALID_ARGUMENT', '--stdin and --stdin-from-command cannot be combined');
  if (stdinMode && args.length > 0)
    throw new RepoError('INVALID_ARGUMENT', '--stdin cannot be combined with paths to back up');
  if (commandMode && args.length === 0) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      '--stdin-from-command needs a command after --, e.g. repo backup --stdin-from-command -- pg_dump mydb',
    );
  }
  const listed =
    flags.filesFrom !== undefined || flags.filesFromVerbatim !== undefined || flags.filesFromRaw !== undefined;
  if ((stdinMode || commandMode) && listed)
    throw new RepoError('INVALID_ARGUMENT', '--files-from* cannot be combined with --stdin or --stdin-from-command');
  if (!stdinMode && !commandMode && args.length === 0 && !listed)
    throw new RepoError(
      'INVALID_ARGUMENT',
      'nothing to back up: give at least one path, --files-from, --stdin or --stdin-from-command',
    );
  if (flags.compression !== undefined) validateCompression(flags.compression);

  const excludes = await excludeRules(flags);
  const excludeIfPresent = [...(flags.excludeIfPresent ?? [])];
  excludeIfPresent.forEach(parseTagFileSpec); // throws for a malformed value
  if (flags.excludeCaches === true) excludeIfPresent.push(CACHEDIR_TAG_SPEC);
  const excludeLargerThan =
    flags.excludeLargerThan === undefined ? undefined : parseSize(flags.excludeLargerThan, '--exclude-larger-than');
  const fromLists = filesFromTargets(env, flags);
  if (listed && fromLists.targets.length === 0 && args.length === 0) {
    throw new RepoError('SOURCE', 'nothing to back up: none of the paths listed by --files-from* exist');
  }
  args = [...fromLists.targets, ...args];
  const live = new BackupLive(out);
  const opts: BackupOptions = {
    tags: flattenTags(flags.tag),
    host: flags.host,
    time: flags.time === undefined ? undefined : parseTime(flags.time),
    excludes,
    excludeIfPresent,
    excludeLargerThan,
    oneFileSystem: flags.oneFileSystem === true,
    dryRun: flags.dryRun === true,
    force: flags.force === true,
    ignoreInode: flags.ignoreInode === true,
    ignoreCtime: flags.ignoreCtime === true,
    signal: env.signal,
    onWarning: (w) => live.warning(w),
    onProgress: live.watching ? (p) => live.progress(p) : undefined,
    onItem: out.verbose ? (i) => live.item(i) : undefined,
  };
  live.start();
  // The key derivation in opening the repository takes about half a second on another thread: the directories
  // to back up are listed and stat'ed meanwhile, and the walk takes what is still fresh. The derivation keeps to
  // one thread unless the listing is done when it starts (a few files): its second took the listing's core.
  if (!stdinMode && !commandMode)
    opts.prefetch = StatPrefetch.start(args, { excludes, excludeIfPresent, oneFileSystem: opts.oneFileSystem });

  const started = Date.now();
  let streamedBytes = 0;
  const openOpts = {
    compression: flags.compression,
    dryRun: opts.dryRun,
    kdfThreads: { callerBusy: () => opts.prefetch?.done === false },
    onOpened: () => opts.prefetch?.stop(),
  };
  const result = await withRepository(env, openOpts, async (repo) => {
    const target: ArchiverRepo = repo;
    try {
      if (!stdinMode && !commandMode) {
        live.phase = 'finding the parent snapshot';
        opts.parent = await parentSnapshot(repo, args, opts, flags);
        if (opts.parent !== undefined) live.above(() => out.info(`using parent snapshot ${shortId(opts.parent!.id)}`));
        live.phase = 'scanning';
        // The directory cache (archiver/dir-cache.ts) lives beside the metadata cache, per repository.
        const cacheDir = env.globals.cache === false ? undefined : defaultCacheDir(process.env);
        if (cacheDir !== undefined) opts.dirCacheDir = path.join(cacheDir, repo.config.id, 'dirs');
        return await extendLocks(env, repo, await backupPaths(target, args, opts));
      }
      const counted = async function* (src: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
        for await (const chunk of src) {
          streamedBytes += chunk.length;
          yield chunk;
        }
      };
      const source = stdinMode ? (process.stdin as AsyncIterable<Buffer>) : commandOutput(args, opts.signal!);
      return await extendLocks(
        env,
        repo,
        await backupStream(target, counted(source), flags.stdinFilename ?? 'stdin', opts),
      );
    } catch (err) {
      // Keep what was already stored: packs being written are finished and indexed, so the next run reuses them.
      if (isRepoError(err, 'INTERRUPTED')) await repo.abort().catch(() => undefined);
      throw err;
    } finally {
      live.stop();
    }
  }).finally(() => {
    live.stop();
    opts.prefetch?.stop(); // opening the repository failed before the walk began
  });
  report(
    env,
    result,
    flags.dryRun === true,
    (Date.now() - started) / 1000,
    stdinMode || commandMode ? streamedBytes : undefined,
  );
  if (result.warnings.some((w) => w.skipped) || fromLists.missing > 0) {
    process.stderr.write('warning: at least one source file could not be read; the snapshot lacks it\n');
    runtime.exitCode = EXIT_PARTIAL;
  }
}

/**
 * With Object Lock: the packs the new snapshot needs (old ones it deduplicated against too) are locked at least as long
 * as the snapshot file, so its data cannot be deleted while the snapshot cannot be (maintenance/object-lock.ts).
 */
async function extendLocks(env: Env, repo: Repository, r: BackupResult): Promise<BackupResult> {
  if (r.snapshotId === undefined) return r;
  const e = await extendSnapshotLocks(repo, { ...r.snapshot, id: r.snapshotId });
  if (e.extended > 0 && !env.out.json) {
    env.out.info(`extended the object lock of ${e.extended} of ${e.packs} packs to ${e.until} (the snapshot's)`);
  }
  return r;
}

const GROUP_FIELDS: GroupBy = ['host', 'paths', 'tags'];

/** The snapshot named by --parent, or the newest earlier snapshot of the same group (none for --stdin). */
async function parentSnapshot(
  repo: Repository,
  paths: string[],
  opts: BackupOptions,
  flags: BackupFlags,
): Promise<StoredSnapshot | undefined> {
  if (flags.parent !== undefined) return findSnapshot(repo, flags.parent);
  const groupBy = (flags.groupBy ?? 'host,paths')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f !== '');
  for (const f of groupBy) {
    if (!(GROUP_FIELDS as string[]).includes(f))
      throw new RepoError(
        'INVALID_ARGUMENT',
        `invalid --group-by field ${JSON.stringify(f)}: use host, paths and/or tags`,
      );
  }
  const abs = [...new Set(paths.map((p) => path.resolve(p)))];
  return findParent(repo, { hostname: opts.host ?? os.hostname(), paths: abs, tags: opts.tags }, groupBy as GroupBy);
}

/**
 * The standard output of a command run without a shell. The iterable throws at its end when the command
 * failed, so the archiver aborts before it flushes or saves a snapshot.
 */
function commandOutput(argv: string[], signal: AbortSignal): AsyncIterable<Uint8Array> {
  const [file, ...args] = argv;
  const child = spawn(file, args, { stdio: ['inherit', 'pipe', 'inherit'], env: childEnv() }); // no password variables
  const status = new Promise<{ error: Error } | { code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('close', (code, sig) => resolve({ code, signal: sig }));
  });
  return (async function* () {
    try {
      try {
        for await (const chunk of child.stdout!) yield chunk as Buffer;
      } catch {
        // A failed spawn or a broken pipe; the exit status below says what happened.
      }
      const st = await status;
      if (signal.aborted) throw new RepoError('INTERRUPTED', 'backup interrupted; no snapshot was saved');
      if ('error' in st) {
        throw new RepoError(
          'COMMAND_FAILED',
          `cannot run command ${file}: ${describeFsError(st.error)}`,
          { command: file },
          { cause: st.error },
        );
      }
      if (st.code !== 0) {
        const how = st.signal !== null ? `was killed by ${st.signal}` : `exited with code ${st.code}`;
        throw new RepoError('COMMAND_FAILED', `command ${file} ${how}; no snapshot was saved`, { command: file });
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
  })();
}

function report(env: Env, r: BackupResult, dryRun: boolean, seconds: number, streamedBytes: number | undefined): void {
  const s = r.snapshot.summary!;
  const processedBytes = streamedBytes ?? s.total_bytes_processed;
  if (env.out.json) {
    // restic's summary keys in restic's order, then what restic does not have.
    env.out.printJson({
      message_type: 'summary',
      files_new: s.files_new,
      files_changed: s.files_changed,
      files_unmodified: s.files_unmodified,
      dirs_new: s.dirs_new,
      dirs_changed: s.dirs_changed,
      dirs_unmodified: s.dirs_unmodified,
      data_blobs: s.data_blobs,
      tree_blobs: s.tree_blobs,
      data_added: s.data_added,
      data_added_packed: s.data_added_packed,
      total_files_processed: s.total_files_processed,
      total_bytes_processed: processedBytes,
      total_duration: seconds,
      backup_start: s.backup_start,
      backup_end: s.backup_end,
      snapshot_id: r.snapshotId ?? null,
      dry_run: dryRun,
      parent: r.snapshot.parent ?? null,
      warnings: r.warnings,
    });
    return;
  }
  const out = env.out;
  const row = (label: string, a: number, b: number, c: number) =>
    `${label.padEnd(8)} ${String(a).padStart(6)} new, ${String(b).padStart(6)} changed, ${String(c).padStart(6)} unmodified`;
  out.info(row('Files:', s.files_new, s.files_changed, s.files_unmodified));
  out.info(row('Dirs:', s.dirs_new, s.dirs_changed, s.dirs_unmodified));
  out.info(
    `${dryRun ? 'Would add' : 'Added'} to the repository: ${formatBytes(s.data_added)} (${formatBytes(s.data_added_packed)} stored)`,
  );
  out.info('');
  out.info(`processed ${s.total_files_processed} files, ${formatBytes(processedBytes)} in ${formatElapsed(seconds)}`);
  if (r.snapshotId !== undefined) out.info(`snapshot ${shortId(r.snapshotId)} saved`);
  else out.info('dry run: no snapshot saved');
}
