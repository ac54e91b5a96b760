// `repo wal push --spool DIR %p` (asynchronous archiving) and `repo wal pusher` (the background process it
// starts). archive_command returns 0 only when the pusher has acknowledged this file with the same SHA-256,
// which it does only after the snapshot is stored; the foreground never reads the config or the password,
// so it costs little more than starting node. The pusher gets no password variable in its environment.

import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, RepoError, type ErrorCode } from '../core/errors.js';
import { PASSWORD_VARIABLES } from '../core/child-env.js';
import { shortId } from '../core/id.js';
import { checkWalName } from '../ops/pg-wal.js';
import { fileDigest, fileIdentity, WalSpool } from '../ops/pg-wal-spool.js';
import { Monitor } from '../ops/monitor.js';
import { parseOpsDuration } from '../ops/time.js';
import { Env, runtime } from './context.js';

export interface AsyncPushFlags {
  profile?: string;
  config?: string;
  spool: string;
  timeout?: string;
}

/** How long archive_command waits for the pusher by default before failing (PostgreSQL then retries). */
const DEFAULT_TIMEOUT_MS = 120_000;
const POLL_MS = 25;

export async function runAsyncPush(env: Env, file: string, flags: AsyncPushFlags): Promise<void> {
  const name = path.basename(file);
  checkWalName(name);
  const abs = path.resolve(file);
  const timeoutMs = flags.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseOpsDuration(flags.timeout, '--timeout');
  const spool = new WalSpool(path.resolve(flags.spool));
  await spool.init();
  const unreadable = (err: NodeJS.ErrnoException) => {
    throw new RepoError('INVALID_ARGUMENT', `cannot read WAL file ${file}: ${err.message}`, { path: file });
  };
  const identity = await fileIdentity(abs).catch(unreadable);
  // Hashed only when an acknowledgement does not name this very file (pg-wal-spool.ts WalAck.identity).
  let digest: { sha256: string; size: number } | undefined;
  const acked = async () => {
    const a = await spool.readAck(name);
    if (a === undefined) return undefined;
    if (a.identity !== undefined && a.identity === identity) return a;
    digest ??= await fileDigest(abs).catch(unreadable);
    return a.sha256 === digest.sha256 && a.size === digest.size ? a : undefined;
  };
  let ack = await acked();
  if (ack === undefined) {
    await spool.clearFailure(name);
    await spool.request(name, abs);
    const deadline = Date.now() + timeoutMs;
    let started = 0;
    for (;;) {
      ack = await acked();
      if (ack !== undefined) break;
      const failure = await spool.readFailure(name);
      if (failure !== undefined)
        throw new RepoError(
          failure.code === 'UNKNOWN' ? 'BACKEND' : (failure.code as ErrorCode),
          `${failure.message} (asynchronous push; log: ${spool.logFile})`,
          { path: file },
        );
      if (Date.now() > deadline)
        throw new RepoError(
          'BACKEND',
          `${name} was not archived within ${timeoutMs / 1000} s (pusher log: ${spool.logFile}); PostgreSQL will retry`,
          { path: file },
        );
      // A pusher that exited (idle, or killed) is replaced; at most one start per second.
      if (Date.now() - started > 1000 && (await spool.pusherPid()) === undefined) {
        startPusher(spool, flags, env);
        started = Date.now();
      }
      await sleep(POLL_MS);
    }
  }
  if (env.out.json)
    env.out.print(
      JSON.stringify({
        message_type: 'wal_push',
        name,
        outcome: ack.outcome,
        snapshot_id: ack.snapshot,
        bytes: ack.size,
        asynchronous: true,
      }),
    );
  else env.out.info(`${name}: archived as snapshot ${shortId(ack.snapshot)} (asynchronous)`);
}

/** Starts `repo wal pusher` detached, its output appended to the spool's log; it takes the pusher lock itself. */
function startPusher(spool: WalSpool, flags: AsyncPushFlags, env: Env): void {
  const argv = [runtime.cliScript, 'wal', 'pusher', '--profile', flags.profile!, '--spool', spool.dir];
  if (flags.config !== undefined) argv.push('--config', path.resolve(flags.config));
  if (env.globals.verbose === true) argv.push('--verbose');
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // The pusher reads the profile's password file or command itself; a password variable stays out of its
  // environment (a file's or command's location is no secret, and a profile may rely on it).
  for (const v of PASSWORD_VARIABLES)
    if (v !== 'REPO_PASSWORD_FILE' && v !== 'REPO_PASSWORD_COMMAND') delete childEnv[v];
  const log = openSync(spool.logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, argv, { detached: true, stdio: ['ignore', log, log], env: childEnv });
    child.unref();
  } finally {
    closeSync(log);
  }
}

/** Without an RPO objective, a segment waiting this long counts as archiving falling behind. */
const DEFAULT_BEHIND_MS = 5 * 60_000;
const PING_EVERY_MS = 10 * 60_000;

export interface PusherFlags {
  profile?: string;
  config?: string;
  spool: string;
  idle?: string;
}

/** The background pusher: one repository session for every segment that arrives until it has been idle. */
export async function runPusherCommand(env: Env, flags: PusherFlags): Promise<void> {
  const spool = new WalSpool(path.resolve(flags.spool));
  await spool.init();
  if (!(await spool.lockPusher())) return; // another pusher serves this spool
  const stamp = (m: string) => env.out.print(`${new Date().toISOString()} [${process.pid}] ${m}`);
  let monitor: Monitor | undefined;
  try {
    const { loadProfile } = await import('./wal-profile.js');
    const { openProfileRepository } = await import('../ops/repos.js');
    const { runPusher } = await import('../ops/pg-wal-pusher.js');
    const { profile } = await loadProfile(flags);
    // Archiving that falls behind fails the profile's healthcheck, at most once per PING_EVERY_MS.
    const m = new Monitor(profile.monitoring, profile.name, (w) => stamp(`warning: ${w}`));
    monitor = m;
    let pinged = 0;
    const onBehind = (message: string) => {
      stamp(message);
      if (!m.enabled || Date.now() - pinged < PING_EVERY_MS) return;
      pinged = Date.now();
      void m.notify('failure', { status: 'wal-behind', summary: message });
    };
    const repo = await openProfileRepository(
      profile,
      { backendOptions: env.backendOptions() },
      { compression: profile.compression, onWarning: stamp },
    );
    try {
      stamp(`pusher started for profile ${profile.name}`);
      const s = await runPusher(repo, profile, spool, {
        idleMs: flags.idle === undefined ? 30_000 : parseOpsDuration(flags.idle, '--idle'),
        pollMs: 50,
        retryMs: 10_000,
        signal: env.signal,
        log: stamp,
        behindMs: profile.objectives.rpoMs ?? DEFAULT_BEHIND_MS,
        onBehind,
      });
      stamp(`pusher idle, exiting: ${s.stored} stored, ${s.present} already archived, ${s.failed} failed`);
    } finally {
      await repo.close().catch(() => undefined);
    }
  } catch (err) {
    // Without a repository no request can be served: each waiting archive_command hears why at once.
    for (const r of await spool.requests()) {
      await spool.writeFailure(r.name, err);
      await spool.dropRequest(r.name);
    }
    if (monitor?.enabled === true)
      await monitor.notify('failure', { status: 'wal-failed', summary: `WAL archiving failed: ${errorMessage(err)}` });
    throw err;
  } finally {
    await spool.unlockPusher();
  }
}
