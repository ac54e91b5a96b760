// `repo log`: lists the repository's audit log (who did what, when, from where, with which result and
// snapshots), with filters; --verify checks the chain and exits 1 when an entry was removed or altered.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { matchesAudit, readAuditLog, type AuditFilter, type AuditResult } from '../ops/audit.js';
import { defaultStateDir } from '../ops/state.js';
import { looksLikeDuration } from '../core/units.js';
import { parseOpsDuration } from '../ops/time.js';
import { Env, runtime, withRepository } from './context.js';
import { formatTimestamp, renderTable } from './format.js';
import { collect, parsePositiveInt, parseTime } from './parse.js';

interface LogFlags {
  operation?: string[];
  host?: string[];
  user?: string[];
  result?: string[];
  snapshot?: string;
  since?: string;
  until?: string;
  last?: string;
  verify?: boolean;
}

const RESULTS: AuditResult[] = ['success', 'failure', 'interrupted', 'partial'];

export function registerLog(program: Command): void {
  program
    .command('log')
    .description('list the audit log: every operation that changed the repository or read data out of it')
    .option('--operation <name>', 'only this operation, e.g. backup, forget, "key add", repair (repeatable)', collect)
    .option('-H, --host <host>', 'only entries written from this host (repeatable)', collect)
    .option('--user <name>', 'only entries of this user (repeatable)', collect)
    .option('--result <result>', 'only success, failure, interrupted or partial (repeatable)', collect)
    .option('--snapshot <id>', 'only entries that added, removed or read this snapshot (id or prefix)')
    .option(
      '--since <time>',
      'only entries since this time ("YYYY-MM-DD HH:MM:SS", RFC 3339) or this long ago (7d, 12h)',
    )
    .option('--until <time>', 'only entries until this time or this long ago')
    .option('--last <n>', 'only the newest N entries')
    .option('--verify', 'check that no entry was removed or altered (exit 1 if one was)')
    .action((flags: LogFlags, c: Command) => runLog(Env.from(c), flags));
}

function parseWhen(value: string, flag: string, now: Date): Date {
  if (looksLikeDuration(value)) return new Date(now.getTime() - parseOpsDuration(value, flag));
  return parseTime(value, flag);
}

async function runLog(env: Env, flags: LogFlags): Promise<void> {
  const now = new Date();
  for (const r of flags.result ?? []) {
    if (!RESULTS.includes(r as AuditResult))
      throw new RepoError('INVALID_ARGUMENT', `invalid --result ${JSON.stringify(r)}: use ${RESULTS.join(', ')}`);
  }
  const filter: AuditFilter = {
    operations: flags.operation,
    hosts: flags.host,
    users: flags.user,
    results: flags.result as AuditResult[] | undefined,
    // the global --profile (cli/profile-option.ts) opens the profile's repository and filters by it too
    profiles: env.globals.profile === undefined ? undefined : [env.globals.profile],
    snapshot: flags.snapshot,
    since: flags.since === undefined ? undefined : parseWhen(flags.since, '--since', now),
    until: flags.until === undefined ? undefined : parseWhen(flags.until, '--until', now),
  };
  const last = flags.last === undefined ? undefined : parsePositiveInt(flags.last, '--last');
  // Entries are immutable files that nothing removes: no lock is needed to read them.
  const log = await withRepository(
    env,
    { skipIndex: true, workers: 0 },
    (repo) => readAuditLog(repo, { stateDir: defaultStateDir() }),
    'none',
  );
  let entries = log.entries.filter((e) => matchesAudit(e, filter));
  if (last !== undefined) entries = entries.slice(-last);
  if (flags.verify && log.problems.length > 0) runtime.exitCode = 1;
  if (env.out.json) {
    env.out.printJson({
      message_type: 'audit_log',
      entries,
      heads: log.heads,
      ...(flags.verify ? { ok: log.problems.length === 0, problems: log.problems, notes: log.notes } : {}),
    });
    return;
  }
  if (entries.length === 0) env.out.info('no audit entries match');
  else {
    env.out.print(
      renderTable(
        ['Time', 'ID', 'Operation', 'Result', 'User@Host', 'Snapshots', 'Details'],
        entries.map((e) => [
          formatTimestamp(e.time),
          shortId(e.id),
          e.operation + (e.profile ? ` (${e.profile})` : ''),
          e.result,
          `${e.sudo_user ? `${e.sudo_user}→` : ''}${e.username}@${e.hostname}`,
          [
            ...(e.snapshots?.added ?? []).map((s) => `+${shortId(s)}`),
            ...(e.snapshots?.removed ?? []).map((s) => `-${shortId(s)}`),
            ...(e.snapshots?.read ?? []).map((s) => `<${shortId(s)}`),
          ].join(' ') || '',
          e.error ?? '',
        ]),
      ),
    );
    env.out.info('snapshots: +added -removed <read');
  }
  if (flags.verify) {
    for (const n of log.notes) env.out.info(`note: ${n.message}`);
    for (const p of log.problems) env.out.print(`error: ${p.message}`);
    env.out.info(
      log.problems.length === 0
        ? `audit log intact: ${log.entries.length} entries`
        : `${log.problems.length} audit log problem${log.problems.length === 1 ? '' : 's'} found`,
    );
  }
}
