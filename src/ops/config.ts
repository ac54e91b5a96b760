// The operations config (repo.yaml): where it is found, reading it with the `yaml` library, and validating it
// with its schema (config-schema.ts) into typed profiles. Every error names the file, line, column and the full
// key path (e.g. "repo.yaml:12:7: profiles.home.retention.keep-daily: expected a whole number ≥ 0 or
// "unlimited", got "x"", see config-issues.ts). The JSON Schema for editors comes from the same schema.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { errorMessage, RepoError } from '../core/errors.js';
import { configIssues, ConfigError, type ConfigIssue } from './config-issues.js';
import {
  configSchema,
  type HooksConfig,
  type MonitoringConfig,
  type Objectives,
  type ProfileInput,
} from './config-schema.js';

export { ConfigError, type ConfigIssue } from './config-issues.js';
export { repositoryKey, validateCron } from './config-schema.js';
export type {
  CheckConfig,
  CopyTarget,
  DatabaseConfig,
  DatabaseType,
  HooksConfig,
  MonitoringConfig,
  Objectives,
  RetentionConfig,
} from './config-schema.js';

export const CONFIG_FILE_NAMES = ['repo.yaml', 'repo.yml'];

/** A profile as the runner, status and the CLI use it: the schema's parsed keys, with defaults, camel-cased. */
function toProfile(name: string, line: number, p: ProfileInput) {
  return {
    name,
    /** Line of the profile's definition in the file. */
    line,
    repository: p.repository,
    passwordFile: p['password-file'],
    passwordCommand: p['password-command'],
    password: p.password,
    sources: p.sources ?? [],
    exclude: p.exclude ?? [],
    excludeFile: p['exclude-file'] ?? [],
    oneFileSystem: p['one-file-system'] ?? false,
    tags: p.tags ?? [],
    host: p.host,
    compression: p.compression,
    retention: p.retention,
    schedule: p.schedule,
    window: p.window,
    hooks:
      p.hooks ?? ({ before: [], after: [], onFailure: [], finally: [], timeoutMs: 15 * 60_000 } satisfies HooksConfig),
    databases: p.databases ?? [],
    copyTo: p['copy-to'] ?? [],
    check: p.check,
    objectives: p.objectives ?? ({} as Objectives),
    monitoring:
      p.monitoring ??
      ({ healthcheck: undefined, webhook: undefined, logLines: 50, timeoutMs: 10_000 } satisfies MonitoringConfig),
    retryLockMs: p['retry-lock']?.ms ?? 10 * 60_000,
    /** Variables set for this profile's work (e.g. AWS_ACCESS_KEY_ID); they win over the inherited environment. */
    env: p.env ?? {},
    /** A KEY=VALUE file (systemd EnvironmentFile= format) read for this profile; for secrets, mode 0600. */
    envFile: p['env-file'],
    /** The local cache directory for this profile's remote repository (instead of $REPO_CACHE_DIR). */
    cacheDir: p['cache-dir'],
    /** No local cache for this profile's repository (like --no-cache). */
    noCache: p['no-cache'] ?? false,
  };
}

export type ProfileConfig = ReturnType<typeof toProfile>;

export interface OpsConfig {
  file: string;
  profiles: Map<string, ProfileConfig>;
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
    if (!fs.existsSync(p))
      throw new RepoError('INVALID_ARGUMENT', `config file ${p} (from REPO_CONFIG) does not exist`, { file: p });
    return p;
  }
  const xdg =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : path.join(env.HOME ?? os.homedir(), '.config');
  const candidates = [
    ...CONFIG_FILE_NAMES.map((n) => path.join(cwd, n)),
    ...CONFIG_FILE_NAMES.map((n) => path.join(xdg, 'repo', n)),
  ];
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new RepoError(
    'INVALID_ARGUMENT',
    `no config file: use --config FILE or REPO_CONFIG, or create one of ${candidates.join(', ')}`,
  );
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
    throw new RepoError(
      'INVALID_ARGUMENT',
      `cannot read config file ${file}: ${errorMessage(err)}`,
      { file },
      { cause: err },
    );
  }
  return parseConfig(text, file, { mode });
}

// ---------------------------------------------------------------------------------------------------------
// Parsing and validation

const PROFILE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Parses and validates config text. `file` names it in errors and anchors relative paths; `mode` gates `password`. */
export function parseConfig(text: string, file = 'repo.yaml', opts: { mode?: number } = {}): OpsConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const syntax: ConfigIssue[] = doc.errors.map((e) => ({
    path: '',
    ...lc.linePos(e.pos[0]),
    message: `YAML syntax: ${e.message.split('\n')[0]}`,
  }));
  if (syntax.length > 0) throw new ConfigError(file, syntax);
  const issues: ConfigIssue[] = [];
  const root = doc.contents as YamlNode | null;
  const profilesNode = isMap(root) ? (root.get('profiles', true) as YamlNode | undefined) : undefined;
  const lines = new Map<string, number>();
  if (isMap(profilesNode)) {
    for (const item of profilesNode.items) {
      const name = isScalar(item.key) ? String(item.key.value) : '';
      const at = item.key as YamlNode;
      const pos = at.range ? lc.linePos(at.range[0]) : { line: 1, col: 1 };
      if (!PROFILE_NAME_RE.test(name)) {
        issues.push({
          path: `profiles.${name}`,
          ...pos,
          message:
            'a profile name must start with a letter or digit and contain only letters, digits, ".", "_" and "-"',
        });
      }
      lines.set(name, pos.line);
    }
    if (profilesNode.items.length === 0)
      issues.push({ path: 'profiles', ...lc.linePos(profilesNode.range![0]), message: 'no profiles defined' });
  } else if (isMap(root) && profilesNode === undefined) {
    issues.push({ path: 'profiles', line: 1, col: 1, message: 'missing: the config needs a "profiles" mapping' });
  }
  const schema = configSchema({ dir: path.dirname(path.resolve(file)), mode: opts.mode ?? 0o600, file });
  const result = schema.safeParse(doc.toJS() ?? null);
  if (!result.success)
    issues.push(
      ...configIssues(result.error, doc, lc).filter(
        (i) => !(i.path === 'profiles' && issues.some((x) => x.path === 'profiles')),
      ),
    );
  if (issues.length > 0 || !result.success)
    throw new ConfigError(
      file,
      issues.sort((a, b) => a.line - b.line || a.col - b.col),
    );
  const profiles = new Map<string, ProfileConfig>();
  for (const [name, p] of Object.entries(result.data.profiles))
    profiles.set(name, toProfile(name, lines.get(name) ?? 1, p));
  return { file, profiles };
}

/** The JSON Schema of repo.yaml (draft 2020-12), for editors: what a file may hold, before parsing. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = configSchema({ dir: '/', mode: 0o600, file: 'repo.yaml' });
  return {
    ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/repo-backup/repo/repo.schema.json',
    title: 'repo.yaml: profiles of the repo backup tool',
  };
}

/** The profiles named (all, in file order, when `names` is empty); INVALID_ARGUMENT for an unknown name. */
export function selectProfiles(config: OpsConfig, names: string[]): ProfileConfig[] {
  if (names.length === 0) return [...config.profiles.values()];
  return names.map((n) => {
    const p = config.profiles.get(n);
    if (p === undefined) {
      throw new RepoError(
        'INVALID_ARGUMENT',
        `no profile ${JSON.stringify(n)} in ${config.file}; profiles: ${[...config.profiles.keys()].join(', ')}`,
      );
    }
    return p;
  });
}
