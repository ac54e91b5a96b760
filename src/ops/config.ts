// The operations config (repo.yaml): where it is found, parsing with the `yaml` library, and validation into
// typed profiles. Every error names the file, line, column and the full key path (e.g.
// "repo.yaml:12:7: profiles.home.retention.keep-daily: expected a whole number ≥ 0 or "unlimited", got "x"").

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { CronExpressionParser } from 'cron-parser';
import { RepoError, errorMessage } from '../core/errors.js';
import { parseSubset } from '../maintenance/subset.js';
import { parseMaxUnused } from '../maintenance/prune-plan.js';
import { parseDuration, parseGroupBy, parseKeepCount, type GroupByField, type RetentionPolicy } from '../policy/index.js';
import { validateCompression } from '../repository/compression.js';
import { parseOpsDuration, parseWindow, type TimeWindow } from './time.js';

export const CONFIG_FILE_NAMES = ['repo.yaml', 'repo.yml'];

export type DatabaseType = 'postgresql' | 'mysql' | 'mongodb' | 'sqlite';

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
}

export interface CopyTarget {
  repository: string;
  passwordFile?: string;
  passwordCommand?: string;
  /** Apply the profile's retention to the target after copying (default true). */
  retention: boolean;
}

export interface HooksConfig {
  before: string[];
  after: string[];
  onFailure: string[];
  finally: string[];
  timeoutMs: number;
}

export interface RetentionConfig {
  policy: RetentionPolicy;
  groupBy: GroupByField[];
  /** Prune after forgetting (default true). */
  prune: boolean;
  maxUnused?: string;
}

export interface CheckConfig {
  readData: boolean;
  subset?: string;
  /** Run the check when the last one is older than this; undefined: on every run. */
  everyMs?: number;
  everyText?: string;
}

export interface Objectives {
  rpoMs?: number;
  rpoText?: string;
  rtoMs?: number;
  rtoText?: string;
}

export interface MonitoringConfig {
  healthcheck?: string;
  webhook?: string;
  /** Lines of the job's log sent with success and failure pings. */
  logLines: number;
  timeoutMs: number;
}

export interface ProfileConfig {
  name: string;
  repository: string;
  passwordFile?: string;
  passwordCommand?: string;
  password?: string;
  sources: string[];
  exclude: string[];
  excludeFile: string[];
  oneFileSystem: boolean;
  tags: string[];
  host?: string;
  compression?: string;
  retention?: RetentionConfig;
  schedule?: string;
  window?: TimeWindow;
  hooks: HooksConfig;
  databases: DatabaseConfig[];
  copyTo: CopyTarget[];
  check?: CheckConfig;
  objectives: Objectives;
  monitoring: MonitoringConfig;
  retryLockMs: number;
  /** Line of the profile's definition in the file. */
  line: number;
}

export interface OpsConfig {
  file: string;
  profiles: Map<string, ProfileConfig>;
}

export interface ConfigIssue {
  path: string;
  line: number;
  col: number;
  message: string;
}

/** An invalid config: every problem found, each with its key path and position. */
export class ConfigError extends RepoError {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    const lines = issues.map((i) => `  ${path.basename(file)}:${i.line}:${i.col}: ${i.path === '' ? '' : i.path + ': '}${i.message}`);
    super('INVALID_ARGUMENT', `invalid configuration ${file} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, { file });
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Finding the file

/**
 * The config file: `explicit` (--config), else $REPO_CONFIG, else repo.yaml (or repo.yml) in `cwd`, else in
 * $XDG_CONFIG_HOME/repo (default ~/.config/repo). INVALID_ARGUMENT naming every place looked at when none exists.
 */
export function findConfigFile(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (explicit !== undefined && explicit !== '') {
    const p = path.resolve(cwd, explicit);
    if (!fs.existsSync(p)) throw new RepoError('INVALID_ARGUMENT', `config file ${p} does not exist`, { file: p });
    return p;
  }
  if (env.REPO_CONFIG !== undefined && env.REPO_CONFIG !== '') {
    const p = path.resolve(cwd, env.REPO_CONFIG);
    if (!fs.existsSync(p)) throw new RepoError('INVALID_ARGUMENT', `config file ${p} (from REPO_CONFIG) does not exist`, { file: p });
    return p;
  }
  const xdg = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), '.config');
  const candidates = [...CONFIG_FILE_NAMES.map((n) => path.join(cwd, n)), ...CONFIG_FILE_NAMES.map((n) => path.join(xdg, 'repo', n))];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new RepoError('INVALID_ARGUMENT', `no config file: use --config FILE or REPO_CONFIG, or create one of ${candidates.join(', ')}`);
}

/** Finds, reads, parses and validates the config. */
export function loadConfig(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): OpsConfig {
  const file = findConfigFile(explicit, env, cwd);
  let text: string;
  let mode = 0o600;
  try {
    text = fs.readFileSync(file, 'utf8');
    mode = fs.statSync(file).mode & 0o777;
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `cannot read config file ${file}: ${errorMessage(err)}`, { file }, { cause: err });
  }
  return parseConfig(text, file, { mode });
}

// ---------------------------------------------------------------------------------------------------------
// Parsing and validation

interface Ctx {
  file: string;
  dir: string;
  lc: LineCounter;
  issues: ConfigIssue[];
  /** File mode bits, for the `password` key. */
  mode: number;
}

function pos(ctx: Ctx, node: YamlNode | Pair | null | undefined): { line: number; col: number } {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  if (!range) return { line: 1, col: 1 };
  const p = ctx.lc.linePos(range[0]);
  return { line: p.line, col: p.col };
}

function issue(ctx: Ctx, node: YamlNode | null | undefined, keyPath: string, message: string): void {
  ctx.issues.push({ path: keyPath, ...pos(ctx, node), message });
}

function describe(node: YamlNode | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value);
  return 'something else';
}

const SUGGEST_MAX = 3;

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length][b.length];
}

/** The map's entries by key; unknown keys (not in `allowed`) are reported with a suggestion. */
function entries(ctx: Ctx, node: YamlNode | null | undefined, keyPath: string, allowed: readonly string[]): Map<string, { key: YamlNode; value: YamlNode | null }> | undefined {
  const out = new Map<string, { key: YamlNode; value: YamlNode | null }>();
  if (!isMap(node)) {
    issue(ctx, node, keyPath, `expected a mapping (key: value), got ${describe(node)}`);
    return undefined;
  }
  for (const item of (node as YAMLMap).items) {
    const keyNode = item.key as YamlNode;
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    const full = keyPath === '' ? String(key) : `${keyPath}.${key}`;
    if (key === undefined) {
      issue(ctx, keyNode, keyPath, 'keys must be plain names');
      continue;
    }
    if (!allowed.includes(key)) {
      const snake = key.replace(/_/g, '-');
      let hint = '';
      if (snake !== key && allowed.includes(snake)) hint = ` (keys are kebab-case: did you mean "${snake}"?)`;
      else {
        const close = allowed.filter((a) => editDistance(a, key) <= SUGGEST_MAX).sort((a, b) => editDistance(a, key) - editDistance(b, key));
        if (close.length > 0) hint = ` (did you mean "${close[0]}"?)`;
      }
      issue(ctx, keyNode, full, `unknown key${hint}; allowed here: ${allowed.join(', ')}`);
      continue;
    }
    out.set(key, { key: keyNode, value: (item.value as YamlNode | null) ?? null });
  }
  return out;
}

function str(ctx: Ctx, node: YamlNode | null, keyPath: string, opts: { allowNumber?: boolean } = {}): string | undefined {
  if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return node.value;
  if (opts.allowNumber && isScalar(node) && typeof node.value === 'number') return String(node.value);
  issue(ctx, node, keyPath, `expected a non-empty string, got ${describe(node)}`);
  return undefined;
}

function bool(ctx: Ctx, node: YamlNode | null, keyPath: string): boolean | undefined {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  issue(ctx, node, keyPath, `expected true or false, got ${describe(node)}`);
  return undefined;
}

function int(ctx: Ctx, node: YamlNode | null, keyPath: string, min: number, max: number): number | undefined {
  if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= min && node.value <= max) return node.value;
  issue(ctx, node, keyPath, `expected a whole number from ${min} to ${max}, got ${describe(node)}`);
  return undefined;
}

/** A list of strings; a single string is a list of one. */
function strList(ctx: Ctx, node: YamlNode | null, keyPath: string): string[] {
  if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return [node.value];
  if (!isSeq(node)) {
    issue(ctx, node, keyPath, `expected a list of strings, got ${describe(node)}`);
    return [];
  }
  const out: string[] = [];
  node.items.forEach((item, i) => {
    const v = str(ctx, item as YamlNode, `${keyPath}[${i}]`, { allowNumber: true });
    if (v !== undefined) out.push(v);
  });
  return out;
}

/** Runs a parser that throws RepoError and turns the error into an issue at `node`. */
function parsed<T>(ctx: Ctx, node: YamlNode | null, keyPath: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    issue(ctx, node, keyPath, errorMessage(err));
    return undefined;
  }
}

function duration(ctx: Ctx, node: YamlNode | null, keyPath: string): { ms: number; text: string } | undefined {
  const v = isScalar(node) && typeof node.value === 'number' ? node.value : str(ctx, node, keyPath);
  if (v === undefined) return undefined;
  const ms = parsed(ctx, node, keyPath, () => parseOpsDuration(v, 'duration'));
  return ms === undefined ? undefined : { ms, text: String(v) };
}

function isRemote(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location);
}

function localPath(ctx: Ctx, p: string): string {
  return path.resolve(ctx.dir, p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
}

function url(ctx: Ctx, node: YamlNode | null, keyPath: string): string | undefined {
  const v = str(ctx, node, keyPath);
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    return v;
  } catch {
    issue(ctx, node, keyPath, `expected an http:// or https:// URL, got ${JSON.stringify(v)}`);
    return undefined;
  }
}

/** Validates a 5-field cron expression (or @hourly, @daily, …) with cron-parser. */
export function validateCron(expr: string): void {
  const t = expr.trim();
  if (!t.startsWith('@') && t.split(/\s+/).length !== 5) {
    throw new RepoError('INVALID_ARGUMENT', `invalid cron expression ${JSON.stringify(expr)}: expected 5 fields (minute hour day-of-month month day-of-week), e.g. "0 * * * *"`);
  }
  try {
    CronExpressionParser.parse(t, { strict: false });
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `invalid cron expression ${JSON.stringify(expr)}: ${errorMessage(err)}`);
  }
}

const PROFILE_KEYS = [
  'repository',
  'password-file',
  'password-command',
  'password',
  'sources',
  'exclude',
  'exclude-file',
  'one-file-system',
  'tags',
  'host',
  'compression',
  'retention',
  'schedule',
  'window',
  'hooks',
  'databases',
  'copy-to',
  'check',
  'objectives',
  'monitoring',
  'retry-lock',
] as const;

const COUNT_KEYS = ['keep-last', 'keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] as const;
const WITHIN_KEYS = ['keep-within', 'keep-within-hourly', 'keep-within-daily', 'keep-within-weekly', 'keep-within-monthly', 'keep-within-yearly'] as const;
const RETENTION_KEYS = [...COUNT_KEYS, ...WITHIN_KEYS, 'keep-tag', 'group-by', 'prune', 'max-unused'] as const;

const DB_TYPES: Record<string, DatabaseType> = {
  postgresql: 'postgresql',
  postgres: 'postgresql',
  mysql: 'mysql',
  mariadb: 'mysql',
  mongodb: 'mongodb',
  mongo: 'mongodb',
  sqlite: 'sqlite',
  sqlite3: 'sqlite',
};
const DB_EXT: Record<DatabaseType, string> = { postgresql: 'sql', mysql: 'sql', mongodb: 'archive', sqlite: 'sql' };

/** Parses and validates config text. `file` names it in errors and anchors relative paths; `mode` gates `password`. */
export function parseConfig(text: string, file = 'repo.yaml', opts: { mode?: number } = {}): OpsConfig {
  const lc = new LineCounter();
  const ctx: Ctx = { file, dir: path.dirname(path.resolve(file)), lc, issues: [], mode: opts.mode ?? 0o600 };
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    ctx.issues.push({ path: '', line: p.line, col: p.col, message: `YAML syntax: ${e.message.split('\n')[0]}` });
  }
  if (ctx.issues.length > 0) throw new ConfigError(file, ctx.issues);
  const root = entries(ctx, doc.contents as YamlNode | null, '', ['profiles']);
  const profiles = new Map<string, ProfileConfig>();
  const profilesNode = root?.get('profiles');
  if (root !== undefined && profilesNode === undefined) issue(ctx, doc.contents as YamlNode, 'profiles', 'missing: the config needs a "profiles" mapping');
  if (profilesNode !== undefined) {
    if (!isMap(profilesNode.value)) issue(ctx, profilesNode.value ?? profilesNode.key, 'profiles', `expected a mapping of profile names to profiles, got ${describe(profilesNode.value)}`);
    else {
      for (const item of profilesNode.value.items) {
        const keyNode = item.key as YamlNode;
        const name = isScalar(keyNode) ? String(keyNode.value) : '';
        if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
          issue(ctx, keyNode, `profiles.${name}`, 'a profile name must start with a letter or digit and contain only letters, digits, ".", "_" and "-"');
          continue;
        }
        const p = parseProfile(ctx, name, (item.value as YamlNode | null) ?? null, pos(ctx, keyNode).line);
        if (p !== undefined) profiles.set(name, p);
      }
      if (profilesNode.value.items.length === 0) issue(ctx, profilesNode.value, 'profiles', 'no profiles defined');
    }
  }
  if (ctx.issues.length > 0) throw new ConfigError(file, ctx.issues);
  return { file, profiles };
}

function parseProfile(ctx: Ctx, name: string, node: YamlNode | null, line: number): ProfileConfig | undefined {
  const kp = `profiles.${name}`;
  const e = entries(ctx, node, kp, PROFILE_KEYS);
  if (e === undefined) return undefined;
  const at = (k: string) => `${kp}.${k}`;
  const get = (k: (typeof PROFILE_KEYS)[number]) => e.get(k);

  const p: ProfileConfig = {
    name,
    repository: '',
    sources: [],
    exclude: [],
    excludeFile: [],
    oneFileSystem: false,
    tags: [],
    hooks: { before: [], after: [], onFailure: [], finally: [], timeoutMs: 15 * 60_000 },
    databases: [],
    copyTo: [],
    objectives: {},
    monitoring: { logLines: 50, timeoutMs: 10_000 },
    retryLockMs: 10 * 60_000,
    line,
  };

  const repo = get('repository');
  if (repo === undefined) issue(ctx, node, at('repository'), 'missing: every profile needs a repository');
  else {
    const v = str(ctx, repo.value, at('repository'));
    if (v !== undefined) p.repository = isRemote(v) ? v : localPath(ctx, v);
  }
  const pwSources = (['password-file', 'password-command', 'password'] as const).filter((k) => e.has(k));
  if (pwSources.length > 1) issue(ctx, e.get(pwSources[1])!.key, at(pwSources[1]), `give only one of ${pwSources.join(', ')}`);
  if (e.has('password-file')) {
    const v = str(ctx, e.get('password-file')!.value, at('password-file'));
    if (v !== undefined) p.passwordFile = localPath(ctx, v);
  }
  if (e.has('password-command')) p.passwordCommand = str(ctx, e.get('password-command')!.value, at('password-command'));
  if (e.has('password')) {
    const n = e.get('password')!;
    if ((ctx.mode & 0o077) !== 0) {
      issue(
        ctx,
        n.key,
        at('password'),
        `a password in the config file is only accepted when the file is readable by its owner alone (chmod 600 ${ctx.file}); prefer password-file or password-command`,
      );
    } else p.password = str(ctx, n.value, at('password'));
  }
  if (e.has('sources')) p.sources = strList(ctx, e.get('sources')!.value, at('sources')).map((s) => localPath(ctx, s));
  if (e.has('exclude')) p.exclude = strList(ctx, e.get('exclude')!.value, at('exclude'));
  if (e.has('exclude-file')) p.excludeFile = strList(ctx, e.get('exclude-file')!.value, at('exclude-file')).map((s) => localPath(ctx, s));
  if (e.has('one-file-system')) p.oneFileSystem = bool(ctx, e.get('one-file-system')!.value, at('one-file-system')) ?? false;
  if (e.has('tags')) {
    p.tags = strList(ctx, e.get('tags')!.value, at('tags'));
    p.tags.forEach((t) => {
      if (t.includes(',')) issue(ctx, e.get('tags')!.value, at('tags'), `a tag must not contain a comma: ${JSON.stringify(t)}`);
    });
  }
  if (e.has('host')) p.host = str(ctx, e.get('host')!.value, at('host'));
  if (e.has('compression')) {
    const n = e.get('compression')!.value;
    const v = str(ctx, n, at('compression'), { allowNumber: true });
    if (v !== undefined) p.compression = parsed(ctx, n, at('compression'), () => validateCompression(v));
  }
  if (e.has('schedule')) {
    const n = e.get('schedule')!.value;
    const v = str(ctx, n, at('schedule'));
    if (v !== undefined && parsed(ctx, n, at('schedule'), () => (validateCron(v), true)) === true) p.schedule = v.trim();
  }
  if (e.has('window')) {
    const n = e.get('window')!.value;
    const v = str(ctx, n, at('window'));
    if (v !== undefined) p.window = parsed(ctx, n, at('window'), () => parseWindow(v));
    if (!e.has('schedule')) issue(ctx, e.get('window')!.key, at('window'), 'a window only makes sense with a schedule');
  }
  if (e.has('retry-lock')) {
    const d = duration(ctx, e.get('retry-lock')!.value, at('retry-lock'));
    if (d !== undefined) p.retryLockMs = d.ms;
  }
  if (e.has('retention')) p.retention = parseRetention(ctx, e.get('retention')!.value, at('retention'));
  if (e.has('hooks')) p.hooks = parseHooks(ctx, e.get('hooks')!.value, at('hooks'), p.hooks);
  if (e.has('databases')) p.databases = parseDatabases(ctx, e.get('databases')!.value, at('databases'));
  if (e.has('copy-to')) p.copyTo = parseCopyTo(ctx, e.get('copy-to')!.value, at('copy-to'));
  if (e.has('check')) p.check = parseCheck(ctx, e.get('check')!.value, at('check'));
  if (e.has('objectives')) p.objectives = parseObjectives(ctx, e.get('objectives')!.value, at('objectives'));
  if (e.has('monitoring')) p.monitoring = parseMonitoring(ctx, e.get('monitoring')!.value, at('monitoring'), p.monitoring);
  if (p.sources.length === 0 && p.databases.length === 0 && repo !== undefined) {
    issue(ctx, node, kp, 'nothing to back up: give sources and/or databases');
  }
  const names = new Set<string>();
  for (const db of p.databases) {
    if (names.has(db.filename)) issue(ctx, e.get('databases')!.value, at('databases'), `two databases would be stored as ${db.filename}: give one of them a "filename"`);
    names.add(db.filename);
  }
  return p;
}

function parseRetention(ctx: Ctx, node: YamlNode | null, kp: string): RetentionConfig | undefined {
  const e = entries(ctx, node, kp, RETENTION_KEYS);
  if (e === undefined) return undefined;
  const policy: RetentionPolicy = {};
  const countField: Record<(typeof COUNT_KEYS)[number], 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly'> = {
    'keep-last': 'last',
    'keep-hourly': 'hourly',
    'keep-daily': 'daily',
    'keep-weekly': 'weekly',
    'keep-monthly': 'monthly',
    'keep-yearly': 'yearly',
  };
  for (const k of COUNT_KEYS) {
    const n = e.get(k)?.value;
    if (n === undefined) continue;
    const v = isScalar(n) && (typeof n.value === 'number' || typeof n.value === 'string') ? String(n.value) : undefined;
    const parsedCount = v === undefined ? undefined : parsed(ctx, n, `${kp}.${k}`, () => parseKeepCount(v));
    if (parsedCount === undefined && v === undefined) issue(ctx, n, `${kp}.${k}`, `expected a whole number ≥ 0 or "unlimited", got ${describe(n)}`);
    if (parsedCount !== undefined) policy[countField[k]] = parsedCount;
  }
  const withinField: Record<(typeof WITHIN_KEYS)[number], 'within' | 'withinHourly' | 'withinDaily' | 'withinWeekly' | 'withinMonthly' | 'withinYearly'> = {
    'keep-within': 'within',
    'keep-within-hourly': 'withinHourly',
    'keep-within-daily': 'withinDaily',
    'keep-within-weekly': 'withinWeekly',
    'keep-within-monthly': 'withinMonthly',
    'keep-within-yearly': 'withinYearly',
  };
  for (const k of WITHIN_KEYS) {
    const n = e.get(k)?.value;
    if (n === undefined) continue;
    const v = str(ctx, n, `${kp}.${k}`);
    if (v !== undefined) {
      const d = parsed(ctx, n, `${kp}.${k}`, () => parseDuration(v));
      if (d !== undefined) policy[withinField[k]] = d;
    }
  }
  if (e.has('keep-tag')) {
    policy.tags = strList(ctx, e.get('keep-tag')!.value, `${kp}.keep-tag`).map((t) => t.split(',').map((x) => x.trim()));
  }
  let groupBy: GroupByField[] = ['host', 'paths'];
  if (e.has('group-by')) {
    const n = e.get('group-by')!.value;
    const v = isScalar(n) && n.value === '' ? '' : isSeq(n) ? strList(ctx, n, `${kp}.group-by`).join(',') : str(ctx, n, `${kp}.group-by`);
    if (v !== undefined) groupBy = parsed(ctx, n, `${kp}.group-by`, () => parseGroupBy(v)) ?? groupBy;
  }
  const prune = e.has('prune') ? (bool(ctx, e.get('prune')!.value, `${kp}.prune`) ?? true) : true;
  let maxUnused: string | undefined;
  if (e.has('max-unused')) {
    const n = e.get('max-unused')!.value;
    const v = str(ctx, n, `${kp}.max-unused`);
    if (v !== undefined && parsed(ctx, n, `${kp}.max-unused`, () => parseMaxUnused(v)) !== undefined) maxUnused = v;
  }
  if (Object.keys(policy).length === 0) issue(ctx, node, kp, `no keep rule: give at least one of ${[...COUNT_KEYS, ...WITHIN_KEYS, 'keep-tag'].join(', ')}`);
  return { policy, groupBy, prune, maxUnused };
}

function parseHooks(ctx: Ctx, node: YamlNode | null, kp: string, dflt: HooksConfig): HooksConfig {
  const e = entries(ctx, node, kp, ['before', 'after', 'on-failure', 'finally', 'timeout']);
  const h: HooksConfig = { ...dflt };
  if (e === undefined) return h;
  if (e.has('before')) h.before = strList(ctx, e.get('before')!.value, `${kp}.before`);
  if (e.has('after')) h.after = strList(ctx, e.get('after')!.value, `${kp}.after`);
  if (e.has('on-failure')) h.onFailure = strList(ctx, e.get('on-failure')!.value, `${kp}.on-failure`);
  if (e.has('finally')) h.finally = strList(ctx, e.get('finally')!.value, `${kp}.finally`);
  if (e.has('timeout')) h.timeoutMs = duration(ctx, e.get('timeout')!.value, `${kp}.timeout`)?.ms ?? h.timeoutMs;
  return h;
}

function parseDatabases(ctx: Ctx, node: YamlNode | null, kp: string): DatabaseConfig[] {
  if (!isSeq(node)) {
    issue(ctx, node, kp, `expected a list of databases, got ${describe(node)}`);
    return [];
  }
  const out: DatabaseConfig[] = [];
  node.items.forEach((item, i) => {
    const ip = `${kp}[${i}]`;
    const e = entries(ctx, item as YamlNode, ip, ['type', 'name', 'host', 'port', 'user', 'password-file', 'options', 'filename', 'command']);
    if (e === undefined) return;
    const typeNode = e.get('type');
    let type: DatabaseType | undefined;
    if (typeNode === undefined) issue(ctx, item as YamlNode, `${ip}.type`, `missing: one of ${Object.keys(DB_TYPES).join(', ')}`);
    else {
      const t = str(ctx, typeNode.value, `${ip}.type`);
      if (t !== undefined) {
        type = DB_TYPES[t.toLowerCase()];
        if (type === undefined) issue(ctx, typeNode.value, `${ip}.type`, `unknown database type ${JSON.stringify(t)}: use one of ${Object.keys(DB_TYPES).join(', ')}`);
      }
    }
    const nameNode = e.get('name');
    let name: string | undefined;
    if (nameNode === undefined) issue(ctx, item as YamlNode, `${ip}.name`, 'missing: the database name (for sqlite: the database file)');
    else name = str(ctx, nameNode.value, `${ip}.name`, { allowNumber: true });
    if (type === undefined || name === undefined) return;
    const db: DatabaseConfig = { type, name: type === 'sqlite' ? localPath(ctx, name) : name, options: [], filename: '' };
    if (e.has('host')) db.host = str(ctx, e.get('host')!.value, `${ip}.host`);
    if (e.has('port')) db.port = int(ctx, e.get('port')!.value, `${ip}.port`, 1, 65535);
    if (e.has('user')) db.user = str(ctx, e.get('user')!.value, `${ip}.user`);
    if (e.has('password-file')) {
      const v = str(ctx, e.get('password-file')!.value, `${ip}.password-file`);
      if (v !== undefined) db.passwordFile = localPath(ctx, v);
    }
    if (e.has('options')) db.options = strList(ctx, e.get('options')!.value, `${ip}.options`);
    if (e.has('command')) {
      db.command = strList(ctx, e.get('command')!.value, `${ip}.command`);
      if (db.command.length === 0) issue(ctx, e.get('command')!.value, `${ip}.command`, 'expected the command and its arguments');
    }
    const base = type === 'sqlite' ? path.basename(name).replace(/\.(db|sqlite3?)$/i, '') : name;
    db.filename = `${type}-${base}.${DB_EXT[type]}`.replace(/[/\0]/g, '_');
    if (e.has('filename')) {
      const f = str(ctx, e.get('filename')!.value, `${ip}.filename`);
      if (f !== undefined) {
        if (f.includes('/') || f === '.' || f === '..') issue(ctx, e.get('filename')!.value, `${ip}.filename`, 'a file name, not a path');
        else db.filename = f;
      }
    }
    out.push(db);
  });
  return out;
}

function parseCopyTo(ctx: Ctx, node: YamlNode | null, kp: string): CopyTarget[] {
  const items: (YamlNode | null)[] = isSeq(node) ? (node.items as YamlNode[]) : [node];
  const out: CopyTarget[] = [];
  items.forEach((item, i) => {
    const ip = isSeq(node) ? `${kp}[${i}]` : kp;
    if (isScalar(item)) {
      const v = str(ctx, item, ip);
      if (v !== undefined) out.push({ repository: isRemote(v) ? v : localPath(ctx, v), retention: true });
      return;
    }
    const e = entries(ctx, item, ip, ['repository', 'password-file', 'password-command', 'retention']);
    if (e === undefined) return;
    const r = e.get('repository');
    if (r === undefined) {
      issue(ctx, item, `${ip}.repository`, 'missing: the target repository');
      return;
    }
    const loc = str(ctx, r.value, `${ip}.repository`);
    if (loc === undefined) return;
    const t: CopyTarget = { repository: isRemote(loc) ? loc : localPath(ctx, loc), retention: true };
    if (e.has('password-file') && e.has('password-command')) issue(ctx, e.get('password-command')!.key, `${ip}.password-command`, 'give only one of password-file, password-command');
    if (e.has('password-file')) {
      const v = str(ctx, e.get('password-file')!.value, `${ip}.password-file`);
      if (v !== undefined) t.passwordFile = localPath(ctx, v);
    }
    if (e.has('password-command')) t.passwordCommand = str(ctx, e.get('password-command')!.value, `${ip}.password-command`);
    if (e.has('retention')) t.retention = bool(ctx, e.get('retention')!.value, `${ip}.retention`) ?? true;
    out.push(t);
  });
  return out;
}

function parseCheck(ctx: Ctx, node: YamlNode | null, kp: string): CheckConfig | undefined {
  const e = entries(ctx, node, kp, ['read-data', 'read-data-subset', 'every']);
  if (e === undefined) return undefined;
  const c: CheckConfig = { readData: false };
  if (e.has('read-data')) c.readData = bool(ctx, e.get('read-data')!.value, `${kp}.read-data`) ?? false;
  if (e.has('read-data-subset')) {
    const n = e.get('read-data-subset')!.value;
    const v = str(ctx, n, `${kp}.read-data-subset`);
    if (v !== undefined && parsed(ctx, n, `${kp}.read-data-subset`, () => parseSubset(v)) !== undefined) c.subset = v;
    if (c.readData) issue(ctx, e.get('read-data-subset')!.key, `${kp}.read-data-subset`, 'give either read-data: true or read-data-subset');
  }
  if (e.has('every')) {
    const d = duration(ctx, e.get('every')!.value, `${kp}.every`);
    if (d !== undefined) {
      c.everyMs = d.ms;
      c.everyText = d.text;
    }
  }
  return c;
}

function parseObjectives(ctx: Ctx, node: YamlNode | null, kp: string): Objectives {
  const e = entries(ctx, node, kp, ['rpo', 'rto']);
  const o: Objectives = {};
  if (e === undefined) return o;
  if (e.has('rpo')) {
    const d = duration(ctx, e.get('rpo')!.value, `${kp}.rpo`);
    if (d !== undefined) {
      o.rpoMs = d.ms;
      o.rpoText = d.text;
    }
  }
  if (e.has('rto')) {
    const d = duration(ctx, e.get('rto')!.value, `${kp}.rto`);
    if (d !== undefined) {
      o.rtoMs = d.ms;
      o.rtoText = d.text;
    }
  }
  return o;
}

function parseMonitoring(ctx: Ctx, node: YamlNode | null, kp: string, dflt: MonitoringConfig): MonitoringConfig {
  const e = entries(ctx, node, kp, ['healthcheck', 'webhook', 'log-lines', 'timeout']);
  const m: MonitoringConfig = { ...dflt };
  if (e === undefined) return m;
  if (e.has('healthcheck')) m.healthcheck = url(ctx, e.get('healthcheck')!.value, `${kp}.healthcheck`);
  if (e.has('webhook')) m.webhook = url(ctx, e.get('webhook')!.value, `${kp}.webhook`);
  if (e.has('log-lines')) m.logLines = int(ctx, e.get('log-lines')!.value, `${kp}.log-lines`, 0, 10_000) ?? m.logLines;
  if (e.has('timeout')) m.timeoutMs = duration(ctx, e.get('timeout')!.value, `${kp}.timeout`)?.ms ?? m.timeoutMs;
  return m;
}

/** The profiles named (all, in file order, when `names` is empty); INVALID_ARGUMENT for an unknown name. */
export function selectProfiles(config: OpsConfig, names: string[]): ProfileConfig[] {
  if (names.length === 0) return [...config.profiles.values()];
  return names.map((n) => {
    const p = config.profiles.get(n);
    if (p === undefined) {
      throw new RepoError('INVALID_ARGUMENT', `no profile ${JSON.stringify(n)} in ${config.file}; profiles: ${[...config.profiles.keys()].join(', ')}`);
    }
    return p;
  });
}

/** A key that identifies one repository across profiles (local paths resolved), for "one job per repository". */
export function repositoryKey(location: string): string {
  return isRemote(location) ? location.replace(/\/+$/, '') : path.resolve(location);
}
