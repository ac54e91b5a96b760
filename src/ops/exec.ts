// External programs of a job: hook commands (through the shell, with a timeout), dump programs whose
// standard output is streamed straight into a backup, and password sources. Output lines go to the job log.

import { spawn, type ChildProcess } from 'node:child_process';
import { childEnv } from '../core/child-env.js';
import { readFile } from 'node:fs/promises';
import { RepoError, errorMessage } from '../core/errors.js';

export type LogFn = (line: string) => void;

/** Splits a byte stream into lines for the log; the last partial line is flushed by end(). */
class LineSplitter {
  private rest = '';
  constructor(private readonly emit: LogFn) {}
  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const lines = text.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.emit(l);
    if (this.rest.length > 8192) {
      this.emit(this.rest);
      this.rest = '';
    }
  }
  end(): void {
    if (this.rest !== '') this.emit(this.rest);
    this.rest = '';
  }
}

function killTree(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig); // the whole process group (the shell and what it started)
  } catch {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  }
}

export interface ShellResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  error?: Error;
}

/**
 * Runs `command` with /bin/sh -c in its own process group; stdout and stderr lines go to `log`. After
 * `timeoutMs` (or on `signal`) the group gets SIGTERM, and SIGKILL 5 s later.
 */
export function runShell(
  command: string,
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; signal?: AbortSignal; log: LogFn },
): Promise<ShellResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(opts.env ?? process.env),
      cwd: opts.cwd,
      detached: true,
    });
    const out = new LineSplitter(opts.log);
    const err = new LineSplitter(opts.log);
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      killTree(child, 'SIGTERM');
      killTimer = setTimeout(() => killTree(child, 'SIGKILL'), 5000);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      resolve({ code, signal: sig, timedOut, aborted, error: spawnError });
    });
  });
}

/** "exited with code 2", "was killed by SIGTERM", "timed out after 5m" … */
export function describeExit(r: ShellResult, timeoutText: string): string {
  if (r.error) return `could not be started: ${r.error.message}`;
  if (r.timedOut) return `timed out after ${timeoutText}`;
  if (r.aborted) return 'was interrupted';
  if (r.signal !== null) return `was killed by ${r.signal}`;
  return `exited with code ${r.code}`;
}

/**
 * The standard output of `argv` (no shell), as an async iterable for backupStream: nothing is written to
 * disk. stderr lines go to `log`. When the program fails, iteration throws COMMAND_FAILED at the end, so
 * the backup stops before it saves a snapshot. Leaving the iteration early (or `signal`) kills the program.
 */
export function commandStream(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal; log: LogFn; what: string },
): AsyncIterable<Uint8Array> {
  const [file, ...args] = argv;
  return (async function* () {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(opts.env ?? process.env),
      detached: true,
    });
    const errLines: string[] = [];
    const err = new LineSplitter((l) => {
      errLines.push(l);
      if (errLines.length > 20) errLines.shift();
      opts.log(l);
    });
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const status = new Promise<{ error: Error } | { code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', (error) => resolve({ error }));
      child.once('close', (code, sig) => resolve({ code, signal: sig }));
    });
    const onAbort = () => killTree(child, 'SIGTERM');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      try {
        for await (const chunk of child.stdout!) yield chunk as Buffer;
      } catch {
        // a failed spawn or a broken pipe: the exit status says what happened
      }
      const st = await status;
      err.end();
      if (opts.signal?.aborted) throw new RepoError('INTERRUPTED', `${opts.what} interrupted; no snapshot was saved`);
      if ('error' in st)
        throw new RepoError(
          'COMMAND_FAILED',
          `${opts.what}: cannot run ${file}: ${st.error.message}`,
          { command: file },
          { cause: st.error },
        );
      if (st.code !== 0) {
        const how = st.signal !== null ? `was killed by ${st.signal}` : `exited with code ${st.code}`;
        const last = errLines
          .filter((l) => l.trim() !== '')
          .slice(-3)
          .join(' | ');
        throw new RepoError(
          'COMMAND_FAILED',
          `${opts.what}: ${file} ${how}${last ? ` (${last})` : ''}; no snapshot was saved`,
          { command: file },
        );
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      killTree(child, 'SIGTERM');
    }
  })();
}

function firstLine(text: string): string {
  const i = text.search(/\r?\n/);
  return i < 0 ? text : text.slice(0, i);
}

export interface PasswordSource {
  passwordFile?: string;
  passwordCommand?: string;
  password?: string;
}

/**
 * A repository password from a profile: its password-file, password-command or password, else the
 * environment (REPO_PASSWORD_FILE, REPO_PASSWORD_COMMAND, REPO_PASSWORD). Never prompts: jobs run unattended.
 */
export async function resolvePassword(
  src: PasswordSource,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  let pw: string | undefined;
  const fromFile = async (file: string) => {
    try {
      return firstLine(await readFile(file, 'utf8'));
    } catch (err) {
      throw new RepoError(
        'INVALID_ARGUMENT',
        `${what}: cannot read password file ${file}: ${errorMessage(err)}`,
        { path: file },
        { cause: err },
      );
    }
  };
  if (src.password !== undefined) pw = src.password;
  else if (src.passwordFile !== undefined) pw = await fromFile(src.passwordFile);
  else if (src.passwordCommand !== undefined) pw = await passwordFromCommand(src.passwordCommand, what);
  else if (nonEmpty(env.REPO_PASSWORD_FILE) !== undefined) pw = await fromFile(env.REPO_PASSWORD_FILE!);
  else if (nonEmpty(env.REPO_PASSWORD_COMMAND) !== undefined)
    pw = await passwordFromCommand(env.REPO_PASSWORD_COMMAND!, what);
  else pw = nonEmpty(env.REPO_PASSWORD);
  if (pw === undefined)
    throw new RepoError('NO_PASSWORD', `${what}: no password: set password-file or password-command in the profile`);
  if (pw === '') throw new RepoError('NO_PASSWORD', `${what}: the password is empty`);
  return pw;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function passwordFromCommand(command: string, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv() });
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err) =>
      reject(new RepoError('COMMAND_FAILED', `${what}: cannot run the password command: ${err.message}`)),
    );
    child.on('close', (code) => {
      if (code !== 0) reject(new RepoError('COMMAND_FAILED', `${what}: the password command exited with code ${code}`));
      else resolve(firstLine(Buffer.concat(chunks).toString('utf8')));
    });
  });
}
