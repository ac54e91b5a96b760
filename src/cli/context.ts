// What every command shares: global options, output streams, the interrupt signal and opening the repository.
// Commands report their exit status through `runtime`; only main.ts turns it (or an error) into process.exit.

import type { Command } from 'commander';
import { openBackend } from '../backend/index.js';
import { RepoError } from '../core/errors.js';
import { Lock } from '../repository/lock.js';
import { Repository, type OpenOptions } from '../repository/repository.js';
import type { SnapshotFilter } from '../snapshot/snapshot.js';
import { parseWaitDuration, tagFilter } from './parse.js';
import { getPassword } from './password.js';

export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  passwordCommand?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** false with --no-lock. */
  lock?: boolean;
  retryLock?: string;
}

/** Exit status of a backup that saved its snapshot although some source files could not be read. */
export const EXIT_PARTIAL = 3;

/** Process-wide state shared by main.ts and the commands. */
export const runtime = {
  /** The exit status a command asks for when it finishes without throwing (e.g. 3 after skipped files). */
  exitCode: 0,
  /** Aborted by the first Ctrl-C while a command that can stop cleanly (backup, restore, dump) is running. */
  controller: new AbortController(),
  /** Whether the running command has taken the signal and so will stop by itself on Ctrl-C. */
  abortable: false,
};

function brokenPipe(): Error {
  return Object.assign(new Error('output closed'), { code: 'EPIPE' });
}

/** Writes bytes to a stream, waiting while its buffer is full; rejects if the stream fails or is closed (e.g. EPIPE). */
export function writeTo(stream: NodeJS.WritableStream, data: Uint8Array | string): Promise<void> {
  if ((stream as { destroyed?: boolean }).destroyed) return Promise.reject(brokenPipe());
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err?: Error | null) => {
      if (settled) return;
      settled = true;
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(brokenPipe());
    stream.on('error', onError);
    stream.on('close', onClose);
    const more = stream.write(data, (err) => {
      if (err) done(err);
    });
    if (more) done();
    else stream.on('drain', onDrain);
  });
}

export class Output {
  constructor(readonly json: boolean, readonly quiet: boolean, readonly verbose: boolean) {}

  /** A line of the command's result on stdout (always printed). */
  print(line: string): void {
    process.stdout.write(line + '\n');
  }

  /** A line of human-readable information on stdout, unless --quiet or --json. */
  info(line: string): void {
    if (!this.quiet && !this.json) process.stdout.write(line + '\n');
  }

  /** Details only wanted with --verbose, on stderr. */
  debug(line: string): void {
    if (this.verbose) process.stderr.write(line + '\n');
  }

  /** A warning on stderr; shown even with --quiet. */
  warn(line: string): void {
    process.stderr.write(`warning: ${line}\n`);
  }

  /** Whether an in-place progress line on stderr makes sense. */
  get progress(): boolean {
    return process.stderr.isTTY === true && !this.quiet && !this.json;
  }

  printJson(value: unknown): void {
    process.stdout.write(JSON.stringify(value) + '\n');
  }
}

export class Env {
  readonly out: Output;

  constructor(readonly globals: GlobalOptions) {
    this.out = new Output(globals.json === true, globals.quiet === true, globals.verbose === true);
  }

  static from(cmd: Command): Env {
    return new Env(cmd.optsWithGlobals<GlobalOptions>());
  }

  /** The interrupt signal; taking it tells main that this command stops cleanly on the first Ctrl-C. */
  get signal(): AbortSignal {
    runtime.abortable = true;
    return runtime.controller.signal;
  }

  get location(): string {
    const loc = this.globals.repo ?? process.env.REPO_REPOSITORY;
    if (loc === undefined || loc === '') {
      throw new RepoError('INVALID_ARGUMENT', 'no repository given: use -r/--repo or set REPO_REPOSITORY');
    }
    return loc;
  }

  password(confirm = false): Promise<string> {
    return getPassword({ passwordFile: this.globals.passwordFile, passwordCommand: this.globals.passwordCommand }, { confirm });
  }

  /** Opens the repository: first the location (so a missing repository is reported without a password prompt), then the key. */
  async openRepository(opts: OpenOptions = {}): Promise<Repository> {
    const backend = await openBackend(this.location);
    try {
      const password = await this.password();
      this.out.debug(`opening repository at ${backend.location}`);
      return await Repository.open(backend, password, opts);
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
  }
}

export type LockMode = 'shared' | 'exclusive' | 'none';

/**
 * Runs `fn` with an opened repository, holding a lock of `lockMode` (unless --no-lock), and releases the
 * lock and closes the repository afterwards, whatever happens. A conflicting lock → RepoError('LOCKED').
 */
export async function withRepository<T>(env: Env, opts: OpenOptions, fn: (repo: Repository) => Promise<T>, lockMode: LockMode = 'shared'): Promise<T> {
  const retryMs = env.globals.retryLock === undefined ? 0 : parseWaitDuration(env.globals.retryLock, '--retry-lock');
  const repo = await env.openRepository(opts);
  let lock: Lock | undefined;
  try {
    if (lockMode !== 'none' && env.globals.lock !== false) {
      lock = await Lock.acquire(repo, { exclusive: lockMode === 'exclusive', retryMs, signal: runtime.controller.signal });
    }
    return await fn(repo);
  } finally {
    await lock?.release().catch(() => undefined);
    await repo.close().catch(() => undefined);
  }
}

/** Options of commands that pick snapshots by host, tag and path (and so resolve "latest" among those). */
export interface FilterFlags {
  host?: string[];
  tag?: string[];
  path?: string[];
}

export function snapshotFilter(f: FilterFlags): SnapshotFilter {
  return { hosts: f.host, tags: tagFilter(f.tag), paths: f.path };
}

/** Adds --host, --tag and --path filter flags to a command. */
export function addFilterFlags(cmd: Command, collect: (v: string, prev: string[] | undefined) => string[]): Command {
  return cmd
    .option('-H, --host <host>', 'only consider snapshots of this host (repeatable)', collect)
    .option('--tag <tags>', 'only consider snapshots with all of these comma-separated tags (repeatable: any of the sets)', collect)
    .option('--path <path>', 'only consider snapshots that include this absolute path (repeatable)', collect);
}
