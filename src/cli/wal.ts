// `repo wal push PATH` (PostgreSQL's archive_command) and `repo wal fetch NAME DEST` (restore_command).
// The repository and its password come from a profile of the config file, so postgresql.conf holds no
// secret. Exit status as PostgreSQL expects it: 0 only when the file is safely archived / restored; 1
// otherwise (archiving is retried; a missing file ends recovery's search on this source). Never a code
// above 125 except on a signal, which PostgreSQL treats as fatal.

import type { Command } from 'commander';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { findWal, pushWal, snapshotFileBytes } from '../ops/pg-wal.js';
import { openProfileRepository, withLock } from '../ops/repos.js';
import { walChain } from '../ops/pg-wal-chain.js';
import { noteFetch } from '../ops/pg-replay-rate.js';
import { defaultStateDir } from '../ops/state.js';
import { parseOpsDuration } from '../ops/time.js';
import { Env, runtime } from './context.js';
import { runAsyncPush, runPusherCommand } from './wal-async.js';
import { formatBytes, formatElapsed } from './format.js';
import { loadProfile, withGlobals, type WalFlags } from './wal-profile.js';

export function registerWal(program: Command): void {
  const wal = program.command('wal').description('PostgreSQL WAL archiving: archive_command and restore_command');
  wal
    .command('push')
    .description("archive one WAL file (archive_command = 'repo wal push --profile NAME %p')")
    .argument('<path>', 'the WAL file (%p)')
    .option(
      '--spool <dir>',
      'archive asynchronously: a background pusher (one repository session) archives this and every ready segment; exit 0 once it has stored this one',
    )
    .option(
      '--timeout <duration>',
      'with --spool: fail (PostgreSQL retries) when not archived within this (default 2m)',
    )
    .action((file: string, flags: WalFlags & { spool?: string; timeout?: string }, c: Command) => {
      const f = withGlobals(flags, c);
      return f.spool === undefined
        ? runPush(Env.from(c), file, f)
        : runAsyncPush(Env.from(c), file, { ...f, spool: f.spool });
    });
  wal
    .command('pusher')
    .description('the background process of "wal push --spool" (started by it; runs until idle)')
    .requiredOption('--spool <dir>', 'the spool directory given to wal push')
    .option('--idle <duration>', 'exit after this long with nothing to archive', '30s')
    .action((flags: WalFlags & { spool: string; idle?: string }, c: Command) =>
      runPusherCommand(Env.from(c), withGlobals(flags, c)),
    );
  wal
    .command('fetch')
    .description("restore one archived WAL file (restore_command = 'repo wal fetch --profile NAME %f %p')")
    .argument('<name>', 'the WAL file name (%f)')
    .argument('<dest>', 'where to write it (%p)')
    .addHelpText('after', '\nExit status: 0 restored; 1 not archived (or any error).')
    .action((name: string, dest: string, flags: WalFlags, c: Command) =>
      runFetch(Env.from(c), name, dest, withGlobals(flags, c)),
    );
  wal
    .command('status')
    .description(
      'the archived WAL of a profile: newest segment and its age (the RPO), gaps after the oldest base backup',
    )
    .option(
      '--max-age <duration>',
      'exit 2 when the newest segment is older than this (e.g. 15m), or the chain has a gap',
    )
    .action((flags: WalFlags & { maxAge?: string }, c: Command) => runStatus(Env.from(c), withGlobals(flags, c)));
  wal
    .command('forget')
    .description("remove archived WAL that no kept base backup needs (segments before the oldest base backup's start)")
    .option('-n, --dry-run', 'only list what would be removed')
    .action((flags: WalFlags & { dryRun?: boolean }, c: Command) => runForget(Env.from(c), withGlobals(flags, c)));
}

async function runStatus(env: Env, flags: WalFlags & { maxAge?: string }): Promise<void> {
  const { profile } = await loadProfile(flags);
  const maxAgeMs = flags.maxAge === undefined ? undefined : parseOpsDuration(flags.maxAge, '--max-age');
  const repo = await openProfileRepository(
    profile,
    { backendOptions: env.backendOptions() },
    { onWarning: (m) => env.out.warn(m) },
  );
  try {
    const r = await withLock(repo, false, { retryMs: profile.retryLockMs, signal: env.signal }, () =>
      walChain(repo, profile),
    );
    const late = maxAgeMs !== undefined && (r.newest === undefined || r.newest.ageMs > maxAgeMs);
    if (late || r.gaps.length > 0) runtime.exitCode = 2;
    if (env.out.json) {
      env.out.print(
        JSON.stringify({
          message_type: 'wal_status',
          profile: profile.name,
          segments: r.segments,
          newest: r.newest?.name ?? null,
          newest_time: r.newest?.time ?? null,
          rpo_seconds: r.newest === undefined ? null : r.newest.ageMs / 1000,
          oldest_needed: r.oldestNeeded ?? null,
          gaps: r.gaps,
          unneeded: r.unneeded.length,
          objective_missed: late,
        }),
      );
      return;
    }
    env.out.print(`profile ${profile.name}: ${r.segments} WAL segments archived`);
    env.out.print(
      r.newest === undefined
        ? 'newest segment: none'
        : `newest segment: ${r.newest.name} archived ${formatElapsed(r.newest.ageMs / 1000, 'short')} ago (RPO)${late ? ' — older than --max-age' : ''}`,
    );
    env.out.print(
      r.oldestNeeded === undefined
        ? 'no base backup yet'
        : `oldest base backup needs WAL from ${r.oldestNeeded}; ${r.unneeded.length} older WAL files can go ("repo wal forget")`,
    );
    env.out.print(
      r.gaps.length === 0
        ? 'chain: no gaps'
        : `chain: MISSING ${r.gaps.length} segment(s) (log and segment number, on no timeline): ${r.gaps.slice(0, 10).join(', ')}${r.gaps.length > 10 ? ', …' : ''}`,
    );
  } finally {
    await repo.close().catch(() => undefined);
  }
}

async function runForget(env: Env, flags: WalFlags & { dryRun?: boolean }): Promise<void> {
  const { profile } = await loadProfile(flags);
  const repo = await openProfileRepository(
    profile,
    { backendOptions: env.backendOptions() },
    { onWarning: (m) => env.out.warn(m) },
  );
  try {
    await withLock(repo, flags.dryRun !== true, { retryMs: profile.retryLockMs, signal: env.signal }, async () => {
      const r = await walChain(repo, profile);
      const names = r.unneeded.map((sn) => sn.paths[0].slice(1)).sort();
      if (!flags.dryRun) for (const sn of r.unneeded) await repo.backend.remove({ type: 'snapshots', name: sn.id });
      if (env.out.json)
        env.out.print(
          JSON.stringify({
            message_type: 'wal_forget',
            removed: flags.dryRun ? [] : names,
            would_remove: flags.dryRun ? names : [],
            oldest_needed: r.oldestNeeded ?? null,
          }),
        );
      else
        env.out.print(
          `${flags.dryRun ? 'would remove' : 'removed'} ${names.length} WAL snapshot(s)${names.length > 0 ? `: ${names[0]} … ${names[names.length - 1]}` : ''}; kept from ${r.oldestNeeded ?? '(no base backup: all kept)'}; run "prune" to free the space`,
        );
    });
  } finally {
    await repo.close().catch(() => undefined);
  }
}

async function runPush(env: Env, file: string, flags: WalFlags): Promise<void> {
  const { profile } = await loadProfile(flags);
  const repo = await openProfileRepository(
    profile,
    { backendOptions: env.backendOptions() },
    { compression: profile.compression, onWarning: (m) => env.out.warn(m) },
  );
  try {
    const res = await withLock(repo, false, { retryMs: profile.retryLockMs, signal: env.signal }, () =>
      pushWal(repo, profile, file, env.signal),
    );
    if (env.out.json)
      env.out.print(
        JSON.stringify({
          message_type: 'wal_push',
          name: res.name,
          outcome: res.outcome,
          snapshot_id: res.snapshotId,
          bytes: res.bytes,
          data_added_packed: res.addedPacked,
        }),
      );
    else if (res.outcome === 'present')
      env.out.info(`${res.name}: already archived with the same content (snapshot ${shortId(res.snapshotId)})`);
    else
      env.out.info(
        `${res.name}: archived as snapshot ${shortId(res.snapshotId)}, ${formatBytes(res.addedPacked)} stored`,
      );
  } finally {
    await repo.close().catch(() => undefined);
  }
}

async function runFetch(env: Env, name: string, dest: string, flags: WalFlags): Promise<void> {
  const { profile } = await loadProfile(flags);
  const repo = await openProfileRepository(
    profile,
    { backendOptions: env.backendOptions() },
    { onWarning: (m) => env.out.warn(m) },
  );
  try {
    await withLock(repo, false, { retryMs: profile.retryLockMs, signal: env.signal }, async () => {
      const sn = await findWal(repo, profile, name);
      if (sn === undefined)
        throw new RepoError('NOT_FOUND', `WAL file ${name} is not archived in profile ${profile.name}`);
      // Written to a temporary name beside DEST and renamed: PostgreSQL never sees a half-written segment.
      const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.repo-${process.pid}.tmp`);
      const fh = await open(tmp, 'wx', 0o600);
      try {
        for await (const buf of snapshotFileBytes(repo, sn)) await fh.write(buf);
        await fh.sync();
        await fh.close();
        await rename(tmp, dest);
      } catch (err) {
        await fh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      env.out.info(`${name}: restored from snapshot ${shortId(sn.id)}`);
    });
    // The time of each fetch measures the server's replay rate for status's RTO; a figure, never a failure.
    await noteFetch(defaultStateDir(), profile.name, name, dest).catch(() => undefined);
  } finally {
    await repo.close().catch(() => undefined);
  }
}
