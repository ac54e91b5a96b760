// Runs the built `repo` CLI (the bundle dist/bundle/repo.js, which package.json's bin names) as a subprocess, as a user would, for end-to-end tests.
// Only tests import this.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(ROOT, 'dist/bundle/repo.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  out: string;
}

export interface CliOptions {
  cwd?: string;
  password?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  onSpawn?: (pid: number) => void;
}

/** The environment without the caller's REPO_* variables, with a password and the cheap test KDF. */
export function cliEnv(password: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('REPO_')) delete env[k];
  Object.assign(env, { REPO_PASSWORD: password, REPO_TEST_KDF: 'cheap' }, extra);
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

/** Runs the CLI; resolves with its exit status and output. `input` is written to its stdin. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: cliEnv(opts.password ?? 'e2e correct horse', opts.env),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      resolve({ code, signal, stdout, out: stdout.toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (opts.onSpawn) opts.onSpawn(child.pid!);
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * A command's JSON result: the whole output when it is one JSON value (`cat` prints indented JSON), else the
 * last line, after any status lines (backup and restore stream them under --json).
 */
export function lastJson<T = any>(out: string): T {
  try {
    return JSON.parse(out) as T;
  } catch {
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    return JSON.parse(lines[lines.length - 1] ?? '') as T;
  }
}
