// `repo copy --from-repo SRC [snapshots…]`: copies snapshots from another repository into this one (-r),
// storing only the blobs this one lacks. Shared locks on both; a second run copies nothing.
// Also the --from-repo flags and the opening of the source repository that `init --copy-chunker-params` shares.

import { selectSnapshots } from './stats.js';
import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { copyChunking, copySnapshots, type CopyProgress, type CopyResult } from '../maintenance/copy.js';
import { Lock } from '../repository/lock.js';
import type { OpenOptions, Repository } from '../repository/repository.js';
import { addFilterFlags, Env, runtime, withRepository, type FilterFlags } from './context.js';
import { formatBytes, formatElapsed } from './format.js';
import { collect, parseWaitDuration } from './parse.js';
import { getPassword } from './password.js';
import { describePhase, describeTransfer, StatusBlock } from './progress.js';

/** The flags naming the source repository (copy, init --copy-chunker-params). */
export interface FromRepoFlags {
  fromRepo?: string;
  fromPasswordFile?: string;
  fromPasswordCommand?: string;
}

/** Adds --from-repo, --from-password-file and --from-password-command. */
export function addFromRepoFlags(cmd: Command): Command {
  return cmd
    .option('--from-repo <location>', 'source repository (default: $REPO_FROM_REPOSITORY)')
    .option(
      '--from-password-file <file>',
      "read the source repository's password from a file (default: $REPO_FROM_PASSWORD_FILE)",
    )
    .option(
      '--from-password-command <command>',
      "run a shell command and use the first line it prints as the source repository's password (default: $REPO_FROM_PASSWORD_COMMAND)",
    );
}

/** The source location from --from-repo or REPO_FROM_REPOSITORY, or undefined. */
export function fromLocation(flags: FromRepoFlags): string | undefined {
  const loc = flags.fromRepo ?? process.env.REPO_FROM_REPOSITORY;
  return loc === undefined || loc === '' ? undefined : loc;
}

/** The source repository's password: --from-password-file/-command, REPO_FROM_PASSWORD[_FILE|_COMMAND], or a prompt. */
export function fromPassword(flags: FromRepoFlags): Promise<string> {
  return getPassword(
    { passwordFile: flags.fromPasswordFile, passwordCommand: flags.fromPasswordCommand },
    {
      lookup: {
        passwordVar: 'REPO_FROM_PASSWORD',
        fileVar: 'REPO_FROM_PASSWORD_FILE',
        commandVar: 'REPO_FROM_PASSWORD_COMMAND',
        prompt: 'enter password for source repository: ',
        missing:
          'no password for the source repository: set REPO_FROM_PASSWORD, --from-password-file or --from-password-command',
      },
    },
  );
}

/** Opens the source repository named by the --from flags. */
export async function openFromRepository(env: Env, flags: FromRepoFlags, opts: OpenOptions = {}): Promise<Repository> {
  const loc = fromLocation(flags);
  if (loc === undefined)
    throw new RepoError('INVALID_ARGUMENT', 'no source repository given: use --from-repo or set REPO_FROM_REPOSITORY');
  return env.openRepositoryAt(loc, () => fromPassword(flags), opts);
}

interface CopyFlags extends FromRepoFlags, FilterFlags {}

export function registerCopy(program: Command): void {
  const cmd = program
    .command('copy')
    .description('copy snapshots from another repository (--from-repo) into this one, storing only what this one lacks')
    .argument(
      '[snapshots...]',
      'snapshot ids of the source (or unique prefixes, or "latest"); default: all matching the filters',
    );
  addFromRepoFlags(cmd);
  addFilterFlags(cmd, collect)
    .addHelpText(
      'after',
      '\nSnapshots already copied earlier are skipped. For deduplication between copied data and later backups into\n' +
        'this repository, create it with "repo init --copy-chunker-params --from-repo SRC".\n' +
        'Example:\n  repo -r s3:https://s3.example.com/bucket/offsite copy --from-repo /srv/backup --host laptop',
    )
    .action((refs: string[], flags: CopyFlags, c: Command) => runCopy(Env.from(c), refs, flags));
}

async function runCopy(env: Env, refs: string[], flags: CopyFlags): Promise<void> {
  const { out } = env;
  if (fromLocation(flags) === undefined) {
    throw new RepoError('INVALID_ARGUMENT', 'no source repository given: use --from-repo or set REPO_FROM_REPOSITORY');
  }
  const retryMs = env.globals.retryLock === undefined ? 0 : parseWaitDuration(env.globals.retryLock, '--retry-lock');
  const signal = env.signal;
  const started = Date.now();
  let phase = 'opening the repositories';
  let last: CopyProgress | undefined;
  const progress = new StatusBlock(out.progress, (secs) => [describeCopy(secs, phase, last)]).start();
  const result = await withRepository(env, {}, async (dst) => {
    // The source only reads: no seal workers.
    const src = await openFromRepository(env, flags, { workers: 0, skipIndex: true });
    let lock: Lock | undefined;
    try {
      if (env.globals.lock !== false)
        lock = await Lock.acquire(src, { exclusive: false, retryMs, signal: runtime.controller.signal });
      phase = 'loading the source index';
      await src.loadIndex(); // only under the lock: a prune may have removed packs meanwhile
      const { sameChunker, rechunk } = copyChunking(src, dst); // the rule profile copies follow too
      if (rechunk) {
        progress.above(() =>
          out.info(
            "note: the repositories use different chunkers, so every copied file is cut again with this repository's " +
              '(create it with "init --copy-chunker-params" to copy blobs as they are)',
          ),
        );
      } else if (!sameChunker) {
        progress.above(() =>
          out.info(
            'note: the repositories use different chunker parameters, so later backups into this repository will not deduplicate ' +
              'against the copied data (create it with "init --copy-chunker-params" to avoid that)',
          ),
        );
      }
      phase = 'selecting snapshots';
      const snapshots = await selectSnapshots(src, refs, flags);
      out.debug(
        `copying ${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'} from ${src.backend.location}`,
      );
      const r = await copySnapshots(src, dst, snapshots, {
        rechunk,
        signal,
        onWarning: (m) => progress.above(() => out.warn(m)),
        onProgress: (p) => {
          last = p;
        },
      });
      return { r, from: src.backend.location };
    } finally {
      progress.clear();
      await lock?.release().catch(() => undefined);
      await src.close().catch(() => undefined);
      env.reportRequests(src.backend, 'source');
    }
  }).finally(() => progress.clear());
  report(env, result.r, result.from, (Date.now() - started) / 1000);
  if (result.r.warnings > 0) runtime.exitCode = 1; // nodes left out of copied trees were each named
}

/** "[0:07] copying snapshot 2 of 5 (1a2b3c4d)  20.00%  1 / 5 snapshots  12.000 MiB  3.000 MiB/s  ETA 0:28". */
function describeCopy(secs: number, phase: string, p: CopyProgress | undefined): string {
  if (p === undefined) return describePhase(secs, phase);
  const n = Math.min(p.total, p.done + 1);
  // Only the snapshot count is known ahead: how much of each is missing here shows only while copying.
  return describeTransfer({
    label: `copying snapshot ${n} of ${p.total} (${shortId(p.snapshot)})`,
    seconds: secs,
    done: p.done,
    total: p.total,
    unit: 'snapshots',
    bytesDone: p.bytesRead,
  });
}

function report(env: Env, r: CopyResult, from: string, seconds: number): void {
  const { out } = env;
  if (out.json) {
    out.printJson({
      message_type: 'copy_summary',
      source: from,
      copied: r.copied,
      skipped: r.skipped,
      data_blobs_added: r.dataBlobsAdded,
      tree_blobs_added: r.treeBlobsAdded,
      data_added: r.dataBytesAdded,
      blobs_read: r.blobsRead,
      bytes_read: r.bytesRead,
      duration_seconds: seconds,
    });
    return;
  }
  for (const s of r.skipped) out.debug(`snapshot ${shortId(s.source)} was already copied as ${shortId(s.destination)}`);
  for (const c of r.copied) out.info(`copied snapshot ${shortId(c.source)} to ${shortId(c.destination)}`);
  const n = r.copied.length;
  out.info(
    `${n} snapshot${n === 1 ? '' : 's'} copied, ${r.skipped.length} already present; ` +
      `${r.dataBlobsAdded + r.treeBlobsAdded} new blobs (${formatBytes(r.dataBytesAdded)} of data) in ${formatElapsed(seconds)}`,
  );
}
