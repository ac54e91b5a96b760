// A profile's environment: `env-file` (KEY=VALUE lines, systemd's EnvironmentFile= format) and `env:` (which
// wins), applied to this process while the profile's work runs, because the AWS SDK and other libraries read
// credentials from process.env. An env-file readable by group or others is refused: it is where secrets go.

import fs from 'node:fs';
import { errorMessage, RepoError } from '../core/errors.js';
import type { ProfileConfig } from './config.js';
import { ENV_NAME_RE } from './env-name.js';

/** Parses KEY=VALUE lines: blank lines and # comments skipped, an optional `export `, values optionally quoted. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const m = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (m === null || !ENV_NAME_RE.test(m[1])) {
      throw new RepoError('INVALID_ARGUMENT', `${file}:${i + 1}: expected NAME=VALUE`, { file });
    }
    let v = m[2];
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0])) v = v.slice(1, -1);
    out[m[1]] = v;
  });
  return out;
}

/** The variables a profile sets: its env-file, then `env:` on top. Reads the file (mode must be 0600 or stricter). */
export function profileEnvironment(p: Pick<ProfileConfig, 'name' | 'env' | 'envFile'>): Record<string, string> {
  let fromFile: Record<string, string> = {};
  if (p.envFile !== undefined) {
    let text: string;
    try {
      const st = fs.statSync(p.envFile);
      if ((st.mode & 0o077) !== 0) {
        throw new RepoError(
          'INVALID_ARGUMENT',
          `env-file ${p.envFile} of profile ${p.name} is readable by others: it holds secrets, so chmod 600 it`,
          { file: p.envFile },
        );
      }
      text = fs.readFileSync(p.envFile, 'utf8');
    } catch (err) {
      if (err instanceof RepoError) throw err;
      throw new RepoError(
        'INVALID_ARGUMENT',
        `cannot read env-file ${p.envFile} of profile ${p.name}: ${errorMessage(err)}`,
        { file: p.envFile },
        { cause: err },
      );
    }
    fromFile = parseEnvFile(text, p.envFile);
  }
  return { ...fromFile, ...p.env };
}

/** Sets the profile's variables in process.env for good (a CLI command run with --profile). */
export function applyProfileEnvironment(p: Pick<ProfileConfig, 'name' | 'env' | 'envFile'>): void {
  Object.assign(process.env, profileEnvironment(p));
}

/**
 * Runs `fn` with the profile's variables in process.env and puts the previous values back afterwards. Jobs
 * that run at the same time share process.env, so the scheduler never overlaps a job with variables (see
 * daemon.ts) with any other.
 */
export async function withProfileEnvironment<T>(
  p: Pick<ProfileConfig, 'name' | 'env' | 'envFile'>,
  fn: () => Promise<T>,
): Promise<T> {
  const vars = profileEnvironment(p);
  const saved = new Map(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Whether a profile sets any variable. */
export function hasProfileEnvironment(p: Pick<ProfileConfig, 'env' | 'envFile'>): boolean {
  return p.envFile !== undefined || Object.keys(p.env).length > 0;
}
