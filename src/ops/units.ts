// Units for users who prefer the system scheduler: a systemd service + timer per profile, or crontab lines.
// Both run `repo run --only-in-window PROFILE` under flock on a per-repository lock file, so that two jobs
// never work on one repository at once; systemd's Persistent=true catches up one missed run.

import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import { RepoError } from '../core/errors.js';
import { repositoryKey, type ProfileConfig } from './config.js';

export interface UnitOptions {
  /** Absolute path of node and of the CLI script (dist/bundle/repo.js). */
  node: string;
  cli: string;
  /** Absolute path of the config file. */
  configFile: string;
  /** Directory for the per-repository flock files (default /run/lock for root, else /tmp). */
  lockDir?: string;
  /** Extra environment lines for the units, e.g. REPO_STATE_DIR. */
  env?: Record<string, string>;
}

const DOW = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function list(
  values: readonly (number | string)[],
  wildcard: boolean,
  pad: number,
  map?: (v: number) => string,
): string {
  if (wildcard) return '*';
  return values
    .map((v) => (typeof v === 'number' ? (map ? map(v) : String(v).padStart(pad, '0')) : String(v)))
    .join(',');
}

/**
 * systemd OnCalendar= expressions equivalent to a 5-field cron expression. Cron fires when the day of month
 * OR the weekday matches (when both are restricted); systemd requires both, so that case gives two lines.
 */
export function cronToOnCalendar(cron: string): string[] {
  const f = CronExpressionParser.parse(cron).fields;
  const nonNumeric = [f.minute, f.hour, f.dayOfMonth, f.month, f.dayOfWeek].some((x) =>
    x.values.some((v) => typeof v !== 'number'),
  );
  if (nonNumeric)
    throw new RepoError(
      'INVALID_ARGUMENT',
      `cron expression ${JSON.stringify(cron)} uses L or # which systemd timers cannot express; use "repo schedule" instead`,
    );
  const time = `${list(f.hour.values, f.hour.values.length === 24, 2)}:${list(f.minute.values, f.minute.values.length === 60, 2)}:00`;
  const month = list(f.month.values, f.month.isWildcard || f.month.values.length === 12, 2);
  const domAll = f.dayOfMonth.isWildcard || f.dayOfMonth.values.length === 31;
  const dowSet = [...new Set((f.dayOfWeek.values as number[]).map((v) => v % 7))].sort((a, b) => a - b);
  const dowAll = f.dayOfWeek.isWildcard || dowSet.length === 7;
  const dom = list(f.dayOfMonth.values, domAll, 2);
  const dow = dowSet.map((v) => DOW[v]).join(',');
  if (!domAll && !dowAll) return [`*-${month}-${dom} ${time}`, `${dow} *-${month}-* ${time}`];
  if (!dowAll) return [`${dow} *-${month}-* ${time}`];
  return [`*-${month}-${dom} ${time}`];
}

function lockFile(p: ProfileConfig, dir: string): string {
  const h = createHash('sha256').update(repositoryKey(p.repository)).digest('hex').slice(0, 16);
  return `${dir}/repo-${h}.lock`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function command(p: ProfileConfig, o: UnitOptions, quote: (s: string) => string): string {
  const dir = o.lockDir ?? (process.getuid?.() === 0 ? '/run/lock' : '/tmp');
  return [
    '/usr/bin/flock',
    lockFile(p, dir),
    o.node,
    o.cli,
    'run',
    '--config',
    o.configFile,
    '--only-in-window',
    p.name,
  ]
    .map(quote)
    .join(' ');
}

function systemdQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1').replace(/%/g, '%%')}"`;
}

/** A service and a timer unit per scheduled profile, as one text with "# file: …" headers. */
export function systemdUnits(profiles: ProfileConfig[], o: UnitOptions): string {
  const out: string[] = [];
  for (const p of profiles) {
    if (p.schedule === undefined) continue;
    const calendars = cronToOnCalendar(p.schedule);
    // The profile's env-file and env: as `repo run` applies them itself, these matter for ExecStart's own
    // environment (flock, node). Secrets belong in the 0600 env-file: unit files are world-readable.
    const env = Object.entries({ ...(o.env ?? {}), ...p.env }).map(
      ([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}`,
    );
    if (p.envFile !== undefined) env.unshift(`EnvironmentFile=${systemdQuote(p.envFile)}`);
    out.push(
      `# file: /etc/systemd/system/repo-${p.name}.service`,
      '[Unit]',
      `Description=repo backup job of profile ${p.name}`,
      'Wants=network-online.target',
      'After=network-online.target',
      '',
      '[Service]',
      'Type=oneshot',
      ...env,
      `ExecStart=${command(p, o, systemdQuote)}`,
      'Nice=10',
      'IOSchedulingClass=best-effort',
      'IOSchedulingPriority=7',
      '',
      `# file: /etc/systemd/system/repo-${p.name}.timer`,
      '[Unit]',
      `Description=Schedule of repo profile ${p.name} (cron "${p.schedule}"${p.window ? `, window ${p.window.text}` : ''})`,
      '',
      '[Timer]',
      ...calendars.map((c) => `OnCalendar=${c}`),
      '# run once after downtime if a run was missed (never more than once)',
      'Persistent=true',
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    );
  }
  out.push(
    `# enable with: systemctl daemon-reload && systemctl enable --now ${profiles
      .filter((p) => p.schedule)
      .map((p) => `repo-${p.name}.timer`)
      .join(' ')}`,
  );
  return out.join('\n') + '\n';
}

/** crontab(5) lines, one per scheduled profile. Cron does not catch up missed runs; see the comment. */
export function crontabLines(profiles: ProfileConfig[], o: UnitOptions): string {
  const out = [
    '# repo backup jobs (install with: crontab -e, or as /etc/cron.d/repo with a user column added).',
    '# Cron does not catch up a run missed while the machine was off; "repo schedule" and systemd timers do.',
  ];
  for (const [k, v] of Object.entries(o.env ?? {})) out.push(`${k}=${v}`);
  for (const p of profiles) {
    if (p.schedule === undefined) continue;
    out.push(`${p.schedule} ${command(p, o, shellQuote)} 2>&1 | logger -t repo-${p.name}`);
  }
  return out.join('\n') + '\n';
}
