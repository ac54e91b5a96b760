// Appends an audit-log entry (ops/audit.ts, spec §14) for every CLI command that changes a repository or
// reads data out of it. main.ts notes which command runs (a commander preAction hook); withRepository wraps
// the command's work in auditAround. A command never fails because its audit entry could not be written.

import type { Command } from 'commander';
import { errorMessage, isRepoError } from '../core/errors.js';
import { appendAudit, type AuditRecord, type AuditResult } from '../ops/audit.js';
import type { Repository } from '../repository/repository.js';
import { findSnapshot, type SnapshotFilter } from '../snapshot/snapshot.js';
import { splitSnapshotPath, tagFilter } from './parse.js';

/** Commands that change a repository or read data out of it, by their full name. */
export const AUDITED_COMMANDS: ReadonlySet<string> = new Set([
  'init',
  'backup',
  'forget',
  'prune',
  'restore',
  'dump',
  'copy',
  'tag',
  'key add',
  'key remove',
  'key passwd',
  'key export',
  'key import',
  'repair index',
  'repair snapshots',
  'repair packs',
  'check',
  'rewrite',
  'recover',
]);

/** Commands that only read: no snapshot listing before and after. */
const READ_ONLY = new Set(['restore', 'dump', 'check', 'key export']);

interface Current {
  operation?: string;
  args: string[];
  positional: string[];
  options: Record<string, unknown>;
  dryRun: boolean;
  /** Set once an entry was written, so a command that opens the repository twice is recorded once. */
  recorded: boolean;
  /** Set by a command that found nothing to do and so changed nothing: like a dry run, it leaves no entry. */
  unchanged?: boolean;
}

const current: Current = { args: [], positional: [], options: {}, dryRun: false, recorded: false };

/** Command-line arguments as recorded: values that may hold secrets or credentials are blanked. */
export function sanitizeArgs(argv: string[]): string[] {
  const out: string[] = [];
  const secretValue = /^(-r|--repo|--from-repo|--password-command|--from-password-command|--repository)$/;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      // The command of --stdin-from-command: its name only, its arguments may carry credentials.
      out.push('--');
      if (i + 1 < argv.length) out.push(argv[i + 1], ...(i + 2 < argv.length ? ['…'] : []));
      break;
    }
    const eq = /^(--[\w-]+)=/.exec(a);
    if (eq && secretValue.test(eq[1])) {
      out.push(`${eq[1]}=…`);
      continue;
    }
    out.push(a);
    if (secretValue.test(a) && i + 1 < argv.length) {
      out.push('…');
      i++;
    }
  }
  return out;
}

/** Called by main.ts before every command's action: remembers which command runs and how. */
export function noteCommand(action: Command): void {
  const names: string[] = [];
  for (let c: Command | null = action; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  current.operation = names.join(' ');
  const opts = action.opts() as Record<string, unknown>;
  current.options = opts;
  current.positional = action.args.map(String);
  current.dryRun = opts.dryRun === true;
  current.args = sanitizeArgs(process.argv.slice(2));
  current.recorded = false;
}

/** Builds the record for an outcome; pure except for looking up the snapshot a dump or restore read. */
async function recordFor(
  repo: Repository,
  op: string,
  result: AuditResult,
  value: unknown,
  err: unknown,
  before: string[] | undefined,
  seconds: number,
): Promise<AuditRecord> {
  const rec: AuditRecord = {
    operation: op,
    result,
    args: current.args,
    details: { duration_seconds: Math.round(seconds * 1000) / 1000 },
  };
  if (err !== undefined) rec.error = errorMessage(err);
  const snapshots: NonNullable<AuditRecord['snapshots']> = {};
  if (before !== undefined) {
    const after = await repo.listNames('snapshots').catch(() => undefined);
    if (after !== undefined) {
      const b = new Set(before);
      const a = new Set(after);
      snapshots.added = after.filter((n) => !b.has(n));
      snapshots.removed = before.filter((n) => !a.has(n));
    }
  }
  const v = value as Record<string, unknown> | undefined;
  if (op === 'backup' && v && typeof v === 'object') {
    const sn = v.snapshot as { summary?: Record<string, unknown>; paths?: string[] } | undefined;
    const s = sn?.summary;
    if (s) {
      Object.assign(rec.details!, {
        paths: sn?.paths,
        data_added: s.data_added,
        data_added_packed: s.data_added_packed,
        total_files_processed: s.total_files_processed,
        total_bytes_processed: s.total_bytes_processed,
      });
    }
    if (Array.isArray(v.warnings) && v.warnings.some((w: { skipped?: boolean }) => w.skipped)) rec.result = 'partial';
  }
  if (op === 'check' && v && typeof v === 'object' && 'ok' in v) {
    const r = v as {
      ok: boolean;
      problems: unknown[];
      readData?: {
        packsRead: number;
        bytesRead: number;
        seconds: number;
        bytesPerSecond: number;
        rateMeasured?: boolean;
        estimatedRestoreSeconds?: number;
      };
    };
    if (!r.ok) {
      rec.result = 'failure';
      rec.error = `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'} found`;
    }
    Object.assign(rec.details!, { problems: r.problems.length });
    if (r.readData) {
      Object.assign(rec.details!, {
        packs_read: r.readData.packsRead,
        bytes_read: r.readData.bytesRead,
        read_seconds: r.readData.seconds,
        bytes_per_second: r.readData.bytesPerSecond,
        rate_measured: r.readData.rateMeasured,
        estimated_restore_seconds: r.readData.estimatedRestoreSeconds,
      });
    }
  }
  if ((op === 'restore' || op === 'dump') && result === 'success') {
    const sn = (v?.sn as { id?: string } | undefined)?.id ?? (await resolveRef(repo));
    if (sn !== undefined) snapshots.read = [sn];
  }
  if (Object.values(snapshots).some((l) => l && l.length > 0)) rec.snapshots = snapshots;
  return rec;
}

/** The snapshot a `dump`/`restore` argument names (SNAPSHOT[:PATH] with --host/--tag/--path), if it resolves. */
async function resolveRef(repo: Repository): Promise<string | undefined> {
  const arg = current.positional[0];
  if (arg === undefined) return undefined;
  const o = current.options as { host?: string[]; tag?: string[]; path?: string[] };
  const filter: SnapshotFilter = { hosts: o.host, tags: tagFilter(o.tag), paths: o.path };
  try {
    return (await findSnapshot(repo, splitSnapshotPath(arg).ref, filter)).id;
  } catch {
    return undefined;
  }
}

/**
 * Runs a command's work on an opened (and locked) repository and appends an audit entry for it when the
 * command is one of AUDITED_COMMANDS and not a dry run: on success, failure or interruption alike.
 */
export async function auditAround<T>(repo: Repository, run: () => Promise<T>, warn: (msg: string) => void): Promise<T> {
  const op = current.operation;
  if (op === undefined || !AUDITED_COMMANDS.has(op) || current.dryRun || current.recorded) return run();
  current.recorded = true;
  const before = READ_ONLY.has(op) ? undefined : await repo.listNames('snapshots').catch(() => undefined);
  const started = Date.now();
  const append = async (result: AuditResult, value: unknown, err: unknown) => {
    try {
      await appendAudit(repo, await recordFor(repo, op, result, value, err, before, (Date.now() - started) / 1000));
    } catch (e) {
      // check reads possibly read-only storage: there, failing to record is not worth a warning
      if (op !== 'check') warn(`could not append to the audit log: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  let value: T;
  try {
    value = await run();
  } catch (err) {
    await append(isRepoError(err, 'INTERRUPTED') ? 'interrupted' : 'failure', undefined, err);
    throw err;
  }
  if (current.unchanged !== true) await append('success', value, undefined);
  return value;
}

/**
 * Says that the running command, if it is `operation` itself (not a command that calls it, as forget
 * --prune calls prune), changed nothing: its success is then not recorded (spec §14).
 */
export function noteNothingChanged(operation: string): void {
  if (current.operation === operation) current.unchanged = true;
}

/** For commands that do not use withRepository (init): appends an entry for the current command. */
export async function recordAudit(
  repo: Repository,
  rec: Omit<AuditRecord, 'args'>,
  warn: (msg: string) => void,
): Promise<void> {
  current.recorded = true;
  try {
    await appendAudit(repo, { ...rec, args: current.args });
  } catch (e) {
    warn(`could not append to the audit log: ${e instanceof Error ? e.message : String(e)}`);
  }
}
