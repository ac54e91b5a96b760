// `repo pg restore --profile NAME --into DIR [--target-time T | --target-lsn L | --target-xid X | --target-name N]`:
// point-in-time recovery of a PostgreSQL cluster from a profile's base backups and archived WAL.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import {
  baseBackups,
  chooseBase,
  layDownBase,
  parseTargetTime,
  physicalDatabase,
  type RecoveryTarget,
} from '../ops/pg-restore.js';
import { findRestorePoint } from '../ops/pg-restore-point.js';
import { openProfileRepository, withLock } from '../ops/repos.js';
import { Env, runtime } from './context.js';
import { formatBytes } from './format.js';
import { loadProfile, withGlobals } from './wal-profile.js';

interface PgRestoreFlags {
  profile?: string;
  config?: string;
  into?: string;
  database?: string;
  targetTime?: string;
  targetLsn?: string;
  targetXid?: string;
  targetName?: string;
  latest?: boolean;
}

export function registerPg(program: Command): void {
  const pg = program.command('pg').description('PostgreSQL point-in-time recovery');
  pg.command('restore')
    .description('lay down the newest base backup before the target and configure recovery to it')
    .requiredOption('--into <dir>', 'new (or empty) data directory')
    .option('--database <name>', 'which physical entry of the profile (default: the first)')
    .option('--target-time <time>', 'recover to this time, e.g. "2026-12-02 10:15:00+00" (no offset: local time)')
    .option('--target-lsn <lsn>', 'recover to this WAL location, e.g. 0/3000060')
    .option('--target-xid <xid>', 'recover to this transaction id')
    .option('--target-name <name>', 'recover to a restore point made with pg_create_restore_point()')
    .option('--latest', 'recover to the end of the archived WAL (the default)')
    .action((flags: PgRestoreFlags, c: Command) => runPgRestore(Env.from(c), withGlobals(flags, c)));
}

function target(flags: PgRestoreFlags): RecoveryTarget {
  const given = [
    flags.targetTime,
    flags.targetLsn,
    flags.targetXid,
    flags.targetName,
    flags.latest ? 'latest' : undefined,
  ].filter((x) => x !== undefined);
  if (given.length > 1)
    throw new RepoError(
      'INVALID_ARGUMENT',
      'give one of --target-time, --target-lsn, --target-xid, --target-name, --latest',
    );
  if (flags.targetTime !== undefined)
    return { kind: 'time', text: flags.targetTime, at: parseTargetTime(flags.targetTime) };
  if (flags.targetLsn !== undefined) {
    if (!/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(flags.targetLsn))
      throw new RepoError(
        'INVALID_ARGUMENT',
        `--target-lsn ${JSON.stringify(flags.targetLsn)}: expected e.g. 0/3000060`,
      );
    return { kind: 'lsn', text: flags.targetLsn };
  }
  if (flags.targetXid !== undefined) {
    if (!/^\d+$/.test(flags.targetXid))
      throw new RepoError(
        'INVALID_ARGUMENT',
        `--target-xid ${JSON.stringify(flags.targetXid)}: expected a transaction id (a number)`,
      );
    return { kind: 'xid', text: flags.targetXid };
  }
  if (flags.targetName !== undefined) return { kind: 'name', text: flags.targetName };
  return { kind: 'latest' };
}

async function runPgRestore(env: Env, flags: PgRestoreFlags): Promise<void> {
  const t = target(flags);
  const { profile, file } = await loadProfile(flags);
  const db = physicalDatabase(profile, flags.database);
  const repo = await openProfileRepository(
    profile,
    { backendOptions: env.backendOptions() },
    { onWarning: (m) => env.out.warn(m) },
  );
  try {
    await withLock(repo, false, { retryMs: profile.retryLockMs, signal: env.signal }, async () => {
      const bases = await baseBackups(repo, profile, db);
      const restorePointLsn =
        t.kind === 'name' && bases.length > 0 ? await findRestorePoint(repo, profile, t.text, env.signal) : undefined;
      const base = chooseBase(bases, t, profile.name, { restorePointLsn, warn: (m) => env.out.warn(m) });
      const repoCommand = [process.execPath, runtime.cliScript];
      const { bytes } = await layDownBase(repo, profile, base, {
        into: flags.into!,
        target: t,
        repoCommand,
        configFile: file,
        signal: env.signal,
      });
      const what = t.kind === 'latest' ? 'the end of the archived WAL' : `${t.kind} ${t.text}`;
      if (env.out.json) {
        env.out.print(
          JSON.stringify({
            message_type: 'pg_restore',
            base_snapshot: base.id,
            base_time: base.time,
            base_stop_lsn: base.summary?.pg_stop_lsn ?? null,
            base_next_xid: base.summary?.pg_next_xid ?? null,
            bytes,
            into: flags.into,
            target: t.kind,
            target_value: t.kind === 'latest' ? null : t.text,
          }),
        );
        return;
      }
      env.out.print(
        `base backup ${shortId(base.id)} of ${base.time} (${formatBytes(bytes)}) laid down in ${flags.into}`,
      );
      env.out.print(`recovery to ${what} is configured (recovery.signal, restore_command in postgresql.auto.conf).`);
      env.out.print('Start the server on it to replay the WAL, as the user that owns the cluster:');
      env.out.print(`  chown -R postgres:postgres ${flags.into} && chmod 700 ${flags.into}`);
      env.out.print(`  pg_ctl -D ${flags.into} -l ${flags.into}/recovery.log start`);
      env.out.print(
        "The postgres user must be able to read the config file and the profile's password file for restore_command.",
      );
    });
  } finally {
    await repo.close().catch(() => undefined);
  }
}
