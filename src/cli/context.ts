// What every command shares: global options, output streams, the interrupt signal and opening the repository.
// Commands report their exit status through `runtime`; only main.ts turns it (or an error) into process.exit.

import type { Command } from 'commander';
import {
  defaultCacheDir,
  EXTENDED_OPTIONS,
  findCache,
  openBackend,
  requestCounts,
  type Backend,
  type OpenOptions as BackendOpenOptions,
} from '../backend/index.js';
import { RepoError } from '../core/errors.js';
import { writeTo } from '../core/stream-write.js';
import { damagedIndexNote } from '../repository/index-load.js';
import { Lock } from '../repository/lock.js';
import { Repository, type OpenOptions } from '../repository/repository.js';
import type { SnapshotFilter } from '../snapshot/snapshot.js';
import { parseWaitDuration, tagFilter } from './parse.js';
import { getPassword } from './password.js';
import { auditAround } from './audit-hook.js';

export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  passwordCommand?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** false with --no-lock. */
  lock?: boolean;
  /** false with --no-cache (see cli/cache.ts). */
  cache?: boolean;
  retryLock?: string;
  /** --config and --profile (cli/profile-option.ts). */
  config?: string;
  profile?: string;
  /** -o key=value, repeatable. */
  option?: string[];
  cacert?: string[];
  tlsClientCert?: string;
  limitUpload?: string;
  limitDownload?: string;
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
  /** The script that runs this CLI (dist/cli/main.js, or the bundle dist/bundle/repo.js): what units and crontabs call. */
  cliScript: '',
};

export { writeTo };

export class Output {
  constructor(
    readonly json: boolean,
    readonly quiet: boolean,
    readonly verbose: boolean,
  ) {}

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

  /** Whether live progress on stderr makes sense: both streams on a terminal (as restic asks of stdout), no --quiet or --json. */
  get progress(): boolean {
    return process.stderr.isTTY === true && process.stdout.isTTY === true && !this.quiet && !this.json;
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
    return getPassword(
      { passwordFile: this.globals.passwordFile, passwordCommand: this.globals.passwordCommand },
      { confirm },
    );
  }

  /**
   * How to build backends: with the local cache (backend/cache.ts) unless --no-cache or `noCache`; its
   * directory is $REPO_CACHE_DIR, $XDG_CACHE_HOME/repo or ~/.cache/repo.
   */
  backendOptions(noCache = false): BackendOpenOptions {
    const dir = this.globals.cache === false || noCache ? undefined : defaultCacheDir(process.env);
    return {
      ...remoteOptions(this.globals),
      cache: dir === undefined ? false : { dir, onWarning: (m) => this.out.warn(m) },
    };
  }

  /** Opens the repository: first the location (so a missing repository is reported without a password prompt), then the key. */
  async openRepository(opts: CommandOpenOptions = {}): Promise<Repository> {
    return this.openRepositoryAt(this.location, () => this.password(), opts);
  }

  /** Opens the repository at `location` with the password `password()` gives (copy's source uses it too). */
  async openRepositoryAt(
    location: string,
    password: () => Promise<string>,
    opts: CommandOpenOptions = {},
  ): Promise<Repository> {
    const { noCache, ...repoOpts } = opts;
    const backend = await openBackend(location, this.backendOptions(noCache === true));
    try {
      const pw = await password();
      this.out.debug(`opening repository at ${backend.location}`);
      const repo = await Repository.open(backend, pw, { onWarning: (m) => this.out.warn(m), ...repoOpts });
      // Tree packs the index no longer names were pruned (possibly elsewhere): their cached copies go.
      if (repoOpts.skipIndex !== true) await findCache(backend)?.dropPacks((p) => repo.index.packHoldsTrees(p));
      return repo;
    } catch (err) {
      await backend.close().catch(() => undefined);
      throw err;
    }
  }

  /** With -v: the requests sent to remote storage and the cache's hits and misses, on stderr. */
  reportRequests(backend: Backend, label = 'backend'): void {
    if (!this.out.verbose) return;
    const counts = requestCounts(backend);
    const cache = findCache(backend);
    if (counts !== undefined) {
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      this.out.debug(`${label} requests: ${total} ${JSON.stringify(counts)}`);
    }
    if (cache !== undefined)
      this.out.debug(
        `${label} cache: ${JSON.stringify(cache.stats)}${cache.directory === undefined ? '' : ` in ${cache.directory}`}`,
      );
  }
}

/** A --limit-upload/--limit-download value: a non-negative number of KiB/s (0: unlimited). */
function parseRate(v: string | undefined, flag: string): number {
  if (v === undefined) return 0;
  const n = Number(v.trim());
  if (v.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new RepoError('INVALID_ARGUMENT', `${flag} must be a rate in KiB/s, e.g. 1024`);
  return n;
}

/** The backend options the global flags give (-o, --cacert, --tls-client-cert, --limit-upload/-download). */
export function remoteOptions(g: GlobalOptions): BackendOpenOptions {
  const extended: Record<string, string> = {};
  for (const kv of g.option ?? []) {
    const eq = kv.indexOf('=');
    const key = eq < 0 ? kv : kv.slice(0, eq);
    if (!EXTENDED_OPTIONS.includes(key)) {
      throw new RepoError(
        'INVALID_ARGUMENT',
        `unknown -o option ${JSON.stringify(key.slice(0, 40))} (known: ${EXTENDED_OPTIONS.join(', ')})`,
      );
    }
    if (eq < 0) throw new RepoError('INVALID_ARGUMENT', `-o ${key} needs a value: -o ${key}=VALUE`);
    extended[key] = kv.slice(eq + 1);
  }
  const tls: NonNullable<BackendOpenOptions['tls']> = {};
  if (g.cacert !== undefined) tls.caFiles = g.cacert;
  if (g.tlsClientCert !== undefined) tls.clientCertFile = g.tlsClientCert;
  return {
    extended,
    tls,
    limits: {
      uploadKiBps: parseRate(g.limitUpload, '--limit-upload'),
      downloadKiBps: parseRate(g.limitDownload, '--limit-download'),
    },
  };
}

/** Repository open options plus what only the CLI decides. */
export interface CommandOpenOptions extends OpenOptions {
  /** Bypass the local cache (check must read the repository itself, not a copy). */
  noCache?: boolean;
  /** Told once the repository is open (its key derived), before the lock is taken. */
  onOpened?: () => void;
}

export type LockMode = 'shared' | 'exclusive' | 'none';

/**
 * Runs `fn` with an opened repository, holding a lock of `lockMode` (unless --no-lock), and releases the
 * lock and closes the repository afterwards, whatever happens. A conflicting lock → RepoError('LOCKED').
 */
export async function withRepository<T>(
  env: Env,
  opts: CommandOpenOptions,
  fn: (repo: Repository) => Promise<T>,
  lockMode: LockMode = 'shared',
): Promise<T> {
  const retryMs = env.globals.retryLock === undefined ? 0 : parseWaitDuration(env.globals.retryLock, '--retry-lock');
  // The index is read only once the lock is held. Read before (or while waiting for) the lock, it can name
  // packs that a prune deletes meanwhile: a backup would then reuse blobs that are gone, and a prune would
  // plan without the packs of a backup that finished meanwhile.
  const repo = await env.openRepository({ ...opts, skipIndex: true });
  opts.onOpened?.();
  let lock: Lock | undefined;
  try {
    if (lockMode !== 'none' && env.globals.lock !== false) {
      lock = await Lock.acquire(repo, {
        exclusive: lockMode === 'exclusive',
        retryMs,
        signal: runtime.controller.signal,
      });
    }
    if (opts.skipIndex !== true) {
      await repo.loadIndex();
      // Tree packs the index no longer names were pruned (possibly elsewhere): their cached copies go.
      await findCache(repo.backend)?.dropPacks((p) => repo.index.packHoldsTrees(p));
    }
    return await auditAround(
      repo,
      () => fn(repo),
      (m) => env.out.warn(m),
    ); // audit log entry (cli/audit-hook.ts)
  } catch (err) {
    // A failure after index files were skipped as damaged may well be theirs: say once more how to repair.
    if (repo.damagedIndexFiles.length > 0 && !(err instanceof Error && err.message.includes('repair index')))
      env.out.warn(damagedIndexNote(repo.damagedIndexFiles));
    throw err;
  } finally {
    if (repo.damagedIndexFiles.length > 0 && runtime.exitCode !== 0)
      env.out.warn(damagedIndexNote(repo.damagedIndexFiles));
    await lock?.release().catch(() => undefined);
    await repo.close().catch(() => undefined);
    env.reportRequests(repo.backend);
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
    .option(
      '--tag <tags>',
      'only consider snapshots with all of these comma-separated tags (repeatable: any of the sets)',
      collect,
    )
    .option('--path <path>', 'only consider snapshots that include this absolute path (repeatable)', collect);
}
