// Point-in-time recovery of PostgreSQL: lays down the newest physical base backup (a `mode: physical`
// database entry's pg_basebackup tar) that ended before the target into a new data directory, and sets
// up recovery there: recovery.signal, restore_command fetching WAL from the same profile, and the target.
// PostgreSQL itself replays the WAL when the server is started.

import { spawn } from 'node:child_process';
import { appendFile, chmod, mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RepoError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, type StoredSnapshot } from '../snapshot/snapshot.js';
import type { DatabaseConfig, ProfileConfig } from './config.js';
import { formatLsn, parseLsn } from './pg-base-info.js';
import { snapshotFileBytes } from './pg-wal.js';
import { profileHost } from './repos.js';

export type RecoveryTarget =
  | { kind: 'latest' }
  | { kind: 'time'; text: string; at: Date }
  | { kind: 'lsn'; text: string }
  | { kind: 'xid'; text: string }
  | { kind: 'name'; text: string };

const TIME = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i;

/** A recovery_target_time as PostgreSQL reads it; without an offset it is local time (as on the server). */
export function parseTargetTime(text: string): Date {
  const m = TIME.exec(text.trim());
  if (m === null)
    throw new RepoError(
      'INVALID_ARGUMENT',
      `--target-time ${JSON.stringify(text)}: expected "YYYY-MM-DD HH:MM[:SS]" with an optional offset (Z, +02, +02:00)`,
    );
  let off = m[3] ?? '';
  if (/^[+-]\d\d$/.test(off)) off += ':00';
  else if (/^[+-]\d{4}$/.test(off)) off = `${off.slice(0, 3)}:${off.slice(3)}`;
  const d = new Date(`${m[1]}T${m[2]}${off.toUpperCase()}`);
  if (Number.isNaN(d.getTime()))
    throw new RepoError('INVALID_ARGUMENT', `--target-time ${JSON.stringify(text)} is not a valid time`);
  return d;
}

/** The profile's physical PostgreSQL entry (the first, or the one named `database`). */
export function physicalDatabase(profile: ProfileConfig, database?: string): DatabaseConfig {
  const all = profile.databases.filter((d) => d.type === 'postgresql' && d.mode === 'physical');
  const db = database === undefined ? all[0] : all.find((d) => d.name === database);
  if (db === undefined) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `profile ${profile.name} has no postgresql database entry with "mode: physical"${database === undefined ? '' : ` named ${database}`}`,
    );
  }
  return db;
}

/** The end of a base backup's stream: the backup is consistent by then. */
function endTime(sn: StoredSnapshot): Date {
  return new Date(sn.summary?.backup_end ?? sn.time);
}

/** The base backups of `db`, oldest first. */
export async function baseBackups(
  repo: Repository,
  profile: ProfileConfig,
  db: DatabaseConfig,
): Promise<StoredSnapshot[]> {
  const host = profileHost(profile);
  const file = '/' + db.filename;
  const list = (await listSnapshots(repo)).filter(
    (sn) => sn.hostname === host && sn.paths.length === 1 && sn.paths[0] === file,
  );
  return list.sort((a, b) => endTime(a).getTime() - endTime(b).getTime());
}

/**
 * The newest base backup from which `target` can be reached. time: the stream ended at or before it. lsn:
 * its recorded stop LSN (pg_stop_lsn) is at or before it. xid: its recorded next transaction id
 * (pg_next_xid) is at or below it, so the transaction began after the backup was consistent. name: the
 * LSN of the restore point (`restorePointLsn`, found in the archived WAL by the caller) as for lsn; when it
 * was not found, the oldest base backup (the one most likely to precede it). latest: the newest.
 * Base backups that recorded nothing for an lsn or xid target (taken before the figure was recorded) are
 * used only when none that recorded it qualifies: the oldest of them, with a warning.
 */
export function chooseBase(
  bases: StoredSnapshot[],
  target: RecoveryTarget,
  profile: string,
  opts: { restorePointLsn?: bigint; warn?: (message: string) => void } = {},
): StoredSnapshot {
  if (bases.length === 0)
    throw new RepoError('NOT_FOUND', `profile ${profile} has no base backup yet: run "repo run ${profile}" first`);
  if (target.kind === 'latest') return bases[bases.length - 1];
  if (target.kind === 'name') {
    if (opts.restorePointLsn !== undefined)
      return byPosition(
        bases,
        'pg_stop_lsn',
        opts.restorePointLsn,
        parseLsn,
        formatLsn,
        `restore point ${JSON.stringify(target.text)}`,
        'LSN',
        opts.warn,
      );
    opts.warn?.(
      `restore point ${JSON.stringify(target.text)} was not found in the archived WAL: using the oldest base backup`,
    );
    return bases[0];
  }
  if (target.kind === 'lsn')
    return byPosition(
      bases,
      'pg_stop_lsn',
      parseLsn(target.text),
      parseLsn,
      formatLsn,
      `LSN ${target.text}`,
      'LSN',
      opts.warn,
    );
  if (target.kind === 'xid')
    return byPosition(
      bases,
      'pg_next_xid',
      xidIn(bases, target.text),
      BigInt,
      String,
      `transaction ${target.text}`,
      'transaction id',
      opts.warn,
    );
  const before = bases.filter((sn) => endTime(sn).getTime() <= target.at.getTime());
  if (before.length === 0) {
    throw new RepoError(
      'NOT_FOUND',
      `no base backup ended before ${target.text}: the earliest time that can be recovered is ${endTime(bases[0]).toISOString()}`,
    );
  }
  return before[before.length - 1];
}

/**
 * A 32-bit transaction id (recovery_target_xid as most people read it off txid_current() in a young
 * cluster) is taken in the epoch of the newest base backup's recorded next id; a larger one is a full id.
 */
function xidIn(bases: StoredSnapshot[], text: string): bigint {
  const v = BigInt(text);
  if (v >= 1n << 32n) return v;
  const recorded = bases.map((sn) => sn.summary?.pg_next_xid).filter((x) => typeof x === 'string');
  const newest = recorded.length > 0 ? BigInt(recorded[recorded.length - 1]) : 0n;
  return ((newest >> 32n) << 32n) | v;
}

function byPosition(
  bases: StoredSnapshot[],
  field: 'pg_stop_lsn' | 'pg_next_xid',
  target: bigint,
  parse: (text: string) => bigint,
  format: (v: bigint) => string,
  what: string,
  unit: string,
  warn?: (message: string) => void,
): StoredSnapshot {
  const known = bases.filter((sn) => typeof sn.summary?.[field] === 'string');
  const at = (sn: StoredSnapshot) => parse(sn.summary![field] as string);
  const fit = known.filter((sn) => at(sn) <= target).sort((a, b) => (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
  if (fit.length > 0) return fit[fit.length - 1];
  const unknown = bases.filter((sn) => typeof sn.summary?.[field] !== 'string');
  if (unknown.length > 0) {
    warn?.(
      `no base backup recorded a ${unit} at or before ${what}: using the oldest of those that recorded none (${unknown[0].id.slice(0, 8)})`,
    );
    return unknown[0];
  }
  const earliest = known.map(at).reduce((a, b) => (a < b ? a : b));
  throw new RepoError(
    'NOT_FOUND',
    `no base backup is consistent before ${what}: the earliest ${unit} that can be recovered to is ${format(earliest)}`,
  );
}

/** Quotes a shell word, then the whole for a single-quoted postgresql.conf value. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
function confValue(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export interface PgRestoreOptions {
  into: string;
  target: RecoveryTarget;
  /** The program and arguments that run `repo` for the server's restore_command. */
  repoCommand: string[];
  configFile: string;
  signal?: AbortSignal;
}

/** Extracts `base` into `opts.into` (created, or empty) and writes the recovery settings. */
export async function layDownBase(
  repo: Repository,
  profile: ProfileConfig,
  base: StoredSnapshot,
  opts: PgRestoreOptions,
): Promise<{ bytes: number }> {
  const dir = path.resolve(opts.into);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0)
    throw new RepoError('INVALID_ARGUMENT', `${dir} is not empty: restore into a new or empty directory`, {
      path: dir,
    });
  await chmod(dir, 0o700); // PostgreSQL refuses a data directory others can read

  const tar = spawn('tar', ['-x', '-f', '-', '-C', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) => resolve(code));
  });
  let bytes = 0;
  try {
    for await (const buf of snapshotFileBytes(repo, base)) {
      if (opts.signal?.aborted) throw new RepoError('INTERRUPTED', 'restore interrupted');
      bytes += buf.length;
      if (!tar.stdin.write(buf)) await new Promise<void>((r) => tar.stdin.once('drain', r));
    }
    tar.stdin.end();
  } catch (err) {
    tar.kill();
    throw err;
  }
  const code = await exited;
  if (code !== 0)
    throw new RepoError(
      'COMMAND_FAILED',
      `tar -x into ${dir} exited with code ${code}: ${stderr.trim().split('\n').slice(-3).join('; ')}`,
      { path: dir },
    );

  const fetch =
    [...opts.repoCommand, 'wal', 'fetch', '--profile', profile.name, '--config', path.resolve(opts.configFile)]
      .map(shellWord)
      .join(' ') + ' %f "%p"';
  const lines = [
    '',
    `# Written by repo pg restore from snapshot ${base.id.slice(0, 8)} (${new Date().toISOString()})`,
    `restore_command = ${confValue(fetch)}`,
  ];
  const t = opts.target;
  if (t.kind !== 'latest')
    lines.push(`recovery_target_${t.kind} = ${confValue(t.text)}`, `recovery_target_action = 'promote'`);
  else lines.push(`recovery_target_timeline = 'latest'`);
  await appendFile(path.join(dir, 'postgresql.auto.conf'), lines.join('\n') + '\n', { mode: 0o600 });
  const signalFile = await open(path.join(dir, 'recovery.signal'), 'w', 0o600);
  await signalFile.sync();
  await signalFile.close();
  return { bytes };
}
