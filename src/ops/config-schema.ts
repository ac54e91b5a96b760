// The repo.yaml schema (zod): the single source of the config's keys, their types and their parsed values.
// Each key parses once, here, into the value the runner uses (durations in ms, retention policies, the check
// subset, max-unused); ProfileConfig and friends are the schema's output types. The JSON Schema editors use
// (`repo generate --config-schema`) is generated from it. Errors are worded for people; config-issues.ts
// turns them into file:line:col lines with "did you mean" and the allowed keys.

import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { ENV_NAME_RE } from './env-name.js';
import { errorMessage, RepoError } from '../core/errors.js';
import { parseSubset, type DataSubset } from '../maintenance/subset.js';
import { parseMaxUnused } from '../maintenance/prune-plan.js';
import type { MaxUnused } from '../maintenance/prune-decide.js';
import {
  parseDuration,
  parseGroupBy,
  parseKeepCount,
  type GroupByField,
  type RetentionPolicy,
} from '../policy/index.js';
import { validateCompression } from '../repository/compression.js';
import { parseOpsDuration, parseWindow } from './time.js';

/** Where relative paths are anchored, and the file's mode (a `password` needs a private file). */
export interface SchemaContext {
  dir: string;
  mode: number;
  file: string;
}

/** How a value looks, for "expected …, got …". */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return JSON.stringify(v);
}
const expected = (what: string) => (iss: { input?: unknown }) => `expected ${what}, got ${describeValue(iss.input)}`;

/** Marks strict objects: config-issues.ts reads the allowed keys from this message. */
export const ALLOWED_PREFIX = 'allowed:';

function keys<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `${ALLOWED_PREFIX}${Object.keys(shape).join(',')}`
        : expected('a mapping (key: value)')(iss),
  });
}

/** Runs a parser that throws RepoError; its message becomes the issue. */
function via<I, O>(fn: (v: I) => O) {
  return (v: I, ctx: z.RefinementCtx): O => {
    try {
      return fn(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
      return z.NEVER;
    }
  };
}

const text = z.string({ error: expected('a non-empty string') }).min(1, { error: expected('a non-empty string') });
const textOrNumber = z.union([text, z.number()], { error: expected('a non-empty string') }).transform(String);
const list = z.union([text.transform((s) => [s]), z.array(textOrNumber)], { error: expected('a list of strings') });
const flag = z.boolean({ error: expected('true or false') });
const int = (min: number, max: number) =>
  z
    .number({ error: expected(`a whole number from ${min} to ${max}`) })
    .int({ error: expected(`a whole number from ${min} to ${max}`) })
    .min(min, { error: expected(`a whole number from ${min} to ${max}`) })
    .max(max, { error: expected(`a whole number from ${min} to ${max}`) });
const httpUrl = text.refine((v) => /^https?:\/\//i.test(v) && URL.canParse(v), {
  error: (iss) => `expected an http:// or https:// URL, got ${JSON.stringify(iss.input)}`,
});

/** A length of time (src/core/units.ts); `bareM` 'minutes' only for keys restic has as Go durations (retry-lock). */
const duration = (key: string, bareM: 'minutes' | 'ambiguous' = 'ambiguous') =>
  z
    .union([text, z.number()], { error: expected('a duration such as 90s, 30min, 1h or 7d') })
    .transform(via((v: string | number) => ({ ms: parseOpsDuration(v, key, bareM), text: String(v) })));

function isRemote(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location);
}

/** A key that identifies one repository across profiles (local paths resolved), for "one job per repository". */
export function repositoryKey(location: string): string {
  return isRemote(location) ? location.replace(/\/+$/, '') : path.resolve(location);
}

/** Validates a 5-field cron expression (or @hourly, @daily, …) with cron-parser. */
export function validateCron(expr: string): string {
  const t = expr.trim();
  if (!t.startsWith('@') && t.split(/\s+/).length !== 5) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid cron expression ${JSON.stringify(expr)}: expected 5 fields (minute hour day-of-month month day-of-week), e.g. "0 * * * *"`,
    );
  }
  try {
    CronExpressionParser.parse(t, { strict: false });
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `invalid cron expression ${JSON.stringify(expr)}: ${errorMessage(err)}`);
  }
  return t;
}

const COUNT_FIELDS = {
  'keep-last': 'last',
  'keep-hourly': 'hourly',
  'keep-daily': 'daily',
  'keep-weekly': 'weekly',
  'keep-monthly': 'monthly',
  'keep-yearly': 'yearly',
} as const;
const WITHIN_FIELDS = {
  'keep-within': 'within',
  'keep-within-hourly': 'withinHourly',
  'keep-within-daily': 'withinDaily',
  'keep-within-weekly': 'withinWeekly',
  'keep-within-monthly': 'withinMonthly',
  'keep-within-yearly': 'withinYearly',
} as const;

const keepCount = z
  .union([z.number(), text], { error: expected('a whole number ≥ 0 or "unlimited"') })
  .transform(via((v: number | string) => parseKeepCount(String(v))));
const keepWithin = (key: string) => text.transform(via((v: string) => parseDuration(v, key)));

const retention = keys({
  ...(Object.fromEntries(Object.keys(COUNT_FIELDS).map((k) => [k, keepCount.optional()])) as Record<
    keyof typeof COUNT_FIELDS,
    z.ZodOptional<typeof keepCount>
  >),
  ...(Object.fromEntries(Object.keys(WITHIN_FIELDS).map((k) => [k, keepWithin(k).optional()])) as Record<
    keyof typeof WITHIN_FIELDS,
    z.ZodOptional<ReturnType<typeof keepWithin>>
  >),
  'keep-tag': list.optional(),
  'group-by': z
    .union([z.literal(''), text, z.array(text)], {
      error: expected('a comma-separated list or a list of host, paths, tags'),
    })
    .transform(via((v: string | string[]) => parseGroupBy(Array.isArray(v) ? v.join(',') : v)))
    .optional(),
  prune: flag.optional(),
  'max-unused': text.transform(via((v: string): MaxUnused => parseMaxUnused(v))).optional(),
}).transform((r, ctx) => {
  const policy: RetentionPolicy = {};
  for (const [k, f] of Object.entries(COUNT_FIELDS))
    if (r[k as keyof typeof COUNT_FIELDS] !== undefined) policy[f] = r[k as keyof typeof COUNT_FIELDS];
  for (const [k, f] of Object.entries(WITHIN_FIELDS))
    if (r[k as keyof typeof WITHIN_FIELDS] !== undefined) policy[f] = r[k as keyof typeof WITHIN_FIELDS];
  if (r['keep-tag'] !== undefined) policy.tags = r['keep-tag'].map((t) => t.split(',').map((x) => x.trim()));
  if (Object.keys(policy).length === 0) {
    ctx.addIssue({
      code: 'custom',
      message: `no keep rule: give at least one of ${[...Object.keys(COUNT_FIELDS), ...Object.keys(WITHIN_FIELDS), 'keep-tag'].join(', ')}`,
    });
  }
  const groupBy: GroupByField[] = r['group-by'] ?? ['host', 'paths'];
  return { policy, groupBy, prune: r.prune ?? true, maxUnused: r['max-unused'] };
});

const check = keys({
  'read-data': flag.optional(),
  'read-data-subset': text
    .transform(via((v: string): { text: string; subset: DataSubset } => ({ text: v, subset: parseSubset(v) })))
    .optional(),
  every: duration('every').optional(),
}).transform((c, ctx) => {
  if (c['read-data'] === true && c['read-data-subset'] !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['read-data-subset'],
      message: 'give either read-data: true or read-data-subset',
    });
  }
  return {
    readData: c['read-data'] ?? false,
    subset: c['read-data-subset']?.subset,
    subsetText: c['read-data-subset']?.text,
    everyMs: c.every?.ms,
    everyText: c.every?.text,
  };
});

const objectives = keys({ rpo: duration('rpo').optional(), rto: duration('rto').optional() }).transform((o) => ({
  rpoMs: o.rpo?.ms,
  rpoText: o.rpo?.text,
  rtoMs: o.rto?.ms,
  rtoText: o.rto?.text,
}));

const hooks = keys({
  before: list.optional(),
  after: list.optional(),
  'on-failure': list.optional(),
  finally: list.optional(),
  timeout: duration('timeout').optional(),
}).transform((h) => ({
  before: h.before ?? [],
  after: h.after ?? [],
  onFailure: h['on-failure'] ?? [],
  finally: h.finally ?? [],
  timeoutMs: h.timeout?.ms ?? 15 * 60_000,
}));

const monitoring = keys({
  healthcheck: httpUrl.optional(),
  webhook: httpUrl.optional(),
  'log-lines': int(0, 10_000).optional(),
  timeout: duration('timeout').optional(),
}).transform((m) => ({
  healthcheck: m.healthcheck,
  webhook: m.webhook,
  logLines: m['log-lines'] ?? 50,
  timeoutMs: m.timeout?.ms ?? 10_000,
}));

const DB_TYPES = {
  postgresql: 'postgresql',
  postgres: 'postgresql',
  mysql: 'mysql',
  mariadb: 'mysql',
  mongodb: 'mongodb',
  mongo: 'mongodb',
  sqlite: 'sqlite',
  sqlite3: 'sqlite',
} as const;
const DB_EXT = { postgresql: 'sql', mysql: 'sql', mongodb: 'archive', sqlite: 'sql' } as const;
export type DatabaseType = (typeof DB_TYPES)[keyof typeof DB_TYPES];

const env = z
  .record(
    z.string(),
    z.union([z.string(), z.number(), z.boolean()], { error: expected('a string') }).transform(String),
    { error: expected('a mapping of variable names to values') },
  )
  .superRefine((m, ctx) => {
    for (const name of Object.keys(m)) {
      if (!ENV_NAME_RE.test(name))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'a variable name has letters, digits and "_" and does not start with a digit',
        });
      else if (name.startsWith('REPO_PASSWORD'))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'give the password with password-file or password-command, not as a variable',
        });
    }
  });

/** The schema of a whole repo.yaml; `c` anchors relative paths and gates `password`. */
export function configSchema(c: SchemaContext) {
  const local = (p: string) => path.resolve(c.dir, p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
  const localPath = text.transform(local);
  const location = text.transform((v) => (isRemote(v) ? v : local(v)));

  const database = keys({
    type: text.transform(
      via((t: string) => {
        const type = DB_TYPES[t.toLowerCase() as keyof typeof DB_TYPES];
        if (type === undefined)
          throw new RepoError(
            'INVALID_ARGUMENT',
            `unknown database type ${JSON.stringify(t)}: use one of ${Object.keys(DB_TYPES).join(', ')}`,
          );
        return type;
      }),
    ),
    name: textOrNumber,
    host: text.optional(),
    port: int(1, 65535).optional(),
    user: text.optional(),
    'password-file': localPath.optional(),
    options: list.optional(),
    filename: text
      .refine((f) => !f.includes('/') && f !== '.' && f !== '..', { error: 'a file name, not a path' })
      .optional(),
    command: list.refine((l) => l.length > 0, { error: 'expected the command and its arguments' }).optional(),
    mode: text
      .refine((m) => m === 'logical' || m === 'physical', {
        error: 'expected "logical" (a dump) or "physical" (pg_basebackup; postgresql only)',
      })
      .optional(),
  }).transform((d, ctx) => {
    const base = d.type === 'sqlite' ? path.basename(d.name).replace(/\.(db|sqlite3?)$/i, '') : d.name;
    const physical = d.mode === 'physical'; // PITR base backups: ops/pg-restore.ts, spec §16
    if (physical && d.type !== 'postgresql')
      ctx.addIssue({ code: 'custom', path: ['mode'], message: '"physical" (pg_basebackup) is for postgresql only' });
    const db: DatabaseConfig = {
      type: d.type,
      name: d.type === 'sqlite' ? local(d.name) : d.name,
      options: d.options ?? [],
      filename:
        d.filename ?? `${d.type}-${base}.${physical ? 'basebackup.tar' : DB_EXT[d.type]}`.replace(/[/\0]/g, '_'),
    };
    if (physical && d.type === 'postgresql') db.mode = 'physical';
    if (d.host !== undefined) db.host = d.host;
    if (d.port !== undefined) db.port = d.port;
    if (d.user !== undefined) db.user = d.user;
    if (d['password-file'] !== undefined) db.passwordFile = d['password-file'];
    if (d.command !== undefined) db.command = d.command;
    return db;
  });

  const copyTarget = z.union(
    [
      location.transform((repository) => ({ repository, retention: true }) as CopyTarget),
      keys({
        repository: location,
        'password-file': localPath.optional(),
        'password-command': text.optional(),
        retention: flag.optional(),
      }).transform((t, ctx) => {
        if (t['password-file'] !== undefined && t['password-command'] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['password-command'],
            message: 'give only one of password-file, password-command',
          });
        }
        const out: CopyTarget = { repository: t.repository, retention: t.retention ?? true };
        if (t['password-file'] !== undefined) out.passwordFile = t['password-file'];
        if (t['password-command'] !== undefined) out.passwordCommand = t['password-command'];
        return out;
      }),
    ],
    { error: expected('a repository location or a mapping with repository') },
  );

  const profile = keys({
    repository: location.describe(
      'repository location: a path (relative to this file), s3:https://host/bucket/prefix, sftp:user@host:/path, rest:https://host:port/path or rclone:remote:path',
    ),
    'password-file': localPath.describe('file whose first line is the repository password').optional(),
    'password-command': text.describe('shell command that prints the repository password').optional(),
    password: text
      .refine(() => (c.mode & 0o077) === 0, {
        error: `a password in the config file is only accepted when the file is readable by its owner alone (chmod 600 ${c.file}); prefer password-file or password-command`,
      })
      .optional(),
    sources: list
      .transform((l) => l.map(local))
      .describe('files and directories to back up')
      .optional(),
    exclude: list.optional(),
    'exclude-file': list.transform((l) => l.map(local)).optional(),
    'one-file-system': flag.optional(),
    tags: list.refine((l) => l.every((t) => !t.includes(',')), { error: 'a tag must not contain a comma' }).optional(),
    host: text.optional(),
    compression: textOrNumber.transform(via(validateCompression)).optional(),
    retention: retention.describe("forget's keep rules (restic's names), then prune").optional(),
    schedule: text
      .transform(via(validateCron))
      .describe('cron expression (5 fields) for repo schedule and the system units')
      .optional(),
    window: text
      .transform(via(parseWindow))
      .describe('local time window HH:MM-HH:MM in which scheduled runs may start')
      .optional(),
    hooks: hooks.optional(),
    databases: z.array(database, { error: expected('a list of databases') }).optional(),
    'copy-to': z.union([copyTarget.transform((t) => [t]), z.array(copyTarget)]).optional(),
    check: check
      .describe('check after the job: read-data or read-data-subset (n/t, 5%, 500M), every (e.g. 7d)')
      .optional(),
    objectives: objectives
      .describe('recovery objectives that repo status checks: rpo and rto (e.g. 1h, 4h)')
      .optional(),
    monitoring: monitoring.optional(),
    'retry-lock': duration('retry-lock', 'minutes')
      .describe("wait this long for a conflicting lock (restic's --retry-lock: 5m = minutes)")
      .optional(),
    env: env.describe('variables for this profile (e.g. AWS_REGION); put secrets in env-file').optional(),
    'env-file': localPath
      .describe('KEY=VALUE file (mode 0600) with variables such as AWS_SECRET_ACCESS_KEY')
      .optional(),
    'cache-dir': localPath.describe('local cache directory for this remote repository').optional(),
    'no-cache': flag.describe('no local cache for this repository').optional(),
  }).superRefine((p, ctx) => {
    const pw = (['password-file', 'password-command', 'password'] as const).filter((k) => p[k] !== undefined);
    if (pw.length > 1) ctx.addIssue({ code: 'custom', path: [pw[1]], message: `give only one of ${pw.join(', ')}` });
    if (p.window !== undefined && p.schedule === undefined)
      ctx.addIssue({ code: 'custom', path: ['window'], message: 'a window only makes sense with a schedule' });
    if ((p.sources ?? []).length === 0 && (p.databases ?? []).length === 0)
      ctx.addIssue({ code: 'custom', message: 'nothing to back up: give sources and/or databases' });
  });

  return keys({
    profiles: z.record(z.string(), profile, { error: expected('a mapping of profile names to profiles') }),
  });
}

/** A profile's parsed keys, before its name and line are added (config.ts). */
export type ProfileInput = z.output<ReturnType<typeof configSchema>>['profiles'][string];
export type RetentionConfig = z.output<typeof retention>;
export type CheckConfig = z.output<typeof check>;
export type Objectives = z.output<typeof objectives>;
export type HooksConfig = z.output<typeof hooks>;
export type MonitoringConfig = z.output<typeof monitoring>;

export interface DatabaseConfig {
  type: DatabaseType;
  /** Database name (for sqlite: the database file). */
  name: string;
  host?: string;
  port?: number;
  user?: string;
  /** File whose first line is the database password (passed in the environment, never on a command line). */
  passwordFile?: string;
  /** Extra arguments for the dump program. */
  options: string[];
  /** Name of the file in the snapshot, e.g. "postgresql-app.sql". */
  filename: string;
  /** Replaces the built-in dump command entirely (argv, run without a shell). */
  command?: string[];
  /** postgresql only: "physical" streams a pg_basebackup tar (for point-in-time recovery) instead of pg_dump. */
  mode?: 'physical';
}

export interface CopyTarget {
  repository: string;
  passwordFile?: string;
  passwordCommand?: string;
  /** Apply the profile's retention to the target after copying (default true). */
  retention: boolean;
}
