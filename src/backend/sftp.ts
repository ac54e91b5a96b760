// Backend storing a repository in a directory on an SSH server, over SFTP (same layout as LocalBackend).
// Must never leave a partially written file under a final name (temporary name, fsync@openssh.com,
// posix-rename@openssh.com), and never put key material or passphrases into a message.

import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { BackendError, NotFoundError, RepoError } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import {
  existsByStat,
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  FILE_TYPES,
  handleToPath,
  resolveRange,
  throwIfAborted,
  validateFileType,
  validateRangeArgs,
  type SaveData,
  saveDataLength,
  saveDataParts,
} from './backend.js';
import { type SftpSession, connectSftp, describeTarget } from './sftp-connection.js';
import { SFTP_STATUS, isDirMode, isFileMode, readFully, sftpOps as ops, sftpStatusOf, writeParts } from './sftp-io.js';
import type { SftpTarget } from './sftp-location.js';
import { type SftpAction as Action, mapSftpError } from './sftp-errors.js';

/** Prefix of temporary files, as LocalBackend's (so both clean up each other's leftovers the same way). */
export const SFTP_TEMP_PREFIX = '.tmp-';
const TEMP_MAX_AGE_MS = 60 * 60 * 1000;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const SUBDIR_RE = /^[0-9a-f]{2}$/;
/** Directory listings (of data/xx) requested at once. */
const LIST_CONCURRENCY = 16;

/**
 * A repository on an SFTP server. One SSH connection carries every request, many in flight at once;
 * a dropped connection fails the calls in flight with a TransientBackendError (so the RetryBackend
 * around it repeats them) and the next call connects again. Use openBackend / createBackend.
 */
export class SftpBackend implements Backend {
  readonly location: string;
  readonly target: SftpTarget;
  /** Requests sent, by operation (for --json statistics, like S3Backend.requests). */
  readonly requests: Record<string, number> = {};
  private readonly who: string;
  private session: Promise<SftpSession> | undefined;
  private closed = false;

  constructor(target: SftpTarget, location: string) {
    this.target = target;
    this.location = location;
    this.who = describeTarget(target);
  }

  /** Path on the server of a '/'-separated layout path ('' = the repository directory). */
  private remote(rel: string): string {
    return rel === '' ? this.target.path : path.posix.join(this.target.path, rel);
  }

  private count(op: string): void {
    this.requests[op] = (this.requests[op] ?? 0) + 1;
  }

  /** The live session, connecting (again) when there is none or the last one dropped. */
  private async connection(): Promise<SftpSession> {
    if (this.closed) throw new BackendError(`sftp ${this.who}: the backend is closed`);
    for (;;) {
      const pending = (this.session ??= connectSftp(this.target).catch((err: unknown) => {
        this.session = undefined;
        throw err;
      }));
      const s = await pending;
      if (s.alive) return s;
      if (this.session === pending) this.session = undefined;
    }
  }

  /**
   * Runs fn on a live session and maps its failure: a lost connection → TransientBackendError; an SFTP
   * status → NotFoundError / BackendError naming the backend, the operation and the file.
   */
  private async run<T>(
    action: Action,
    file: string,
    fn: (s: SftpSession) => Promise<T>,
    opts: { mayHaveSucceeded?: boolean } = {},
  ): Promise<T> {
    const s = await this.connection();
    try {
      return await fn(s);
    } catch (err) {
      throw mapSftpError(
        err,
        s,
        { who: this.who, host: this.target.hostname },
        action,
        file,
        opts.mayHaveSucceeded ?? false,
      );
    }
  }

  /** Creates `dir` and its missing parents (mkdir -p); an existing directory is fine. */
  private async mkdirs(s: SftpSession, dir: string): Promise<void> {
    try {
      await ops.mkdir(s.sftp, dir, DIR_MODE);
      return;
    } catch (err) {
      const st = await ops.stat(s.sftp, dir).catch(() => undefined);
      if (st !== undefined && isDirMode(st.mode)) return;
      const parent = path.posix.dirname(dir);
      if (sftpStatusOf(err) !== SFTP_STATUS.NO_SUCH_FILE || parent === dir || parent === '.' || parent === '/')
        throw err;
    }
    await this.mkdirs(s, path.posix.dirname(dir));
    await ops.mkdir(s.sftp, dir, DIR_MODE).catch(async (err: unknown) => {
      const st = await ops.stat(s.sftp, dir).catch(() => undefined);
      if (st === undefined || !isDirMode(st.mode)) throw err;
    });
  }

  /**
   * For openBackend: the directory exists and holds a config. Missing directory →
   * RepoError('REPO_NOT_FOUND'); no config → RepoError('NOT_A_REPOSITORY').
   */
  async checkRepository(): Promise<void> {
    await this.run('open', '.', async (s) => {
      this.count('stat');
      const st = await ops.stat(s.sftp, this.remote('')).catch((err: unknown) => {
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) {
          throw new RepoError('REPO_NOT_FOUND', `no repository at ${this.location}: the directory does not exist`, {
            path: this.location,
          });
        }
        throw err;
      });
      if (!isDirMode(st.mode)) {
        throw new RepoError('NOT_A_REPOSITORY', `${this.location} is not a repository: it is not a directory`, {
          path: this.location,
        });
      }
      this.count('stat');
      const config = await ops.stat(s.sftp, this.remote('config')).catch((err: unknown) => {
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
        throw err;
      });
      if (config === undefined || !isFileMode(config.mode)) {
        throw new RepoError('NOT_A_REPOSITORY', `${this.location} is not a repository: it has no config file`, {
          path: this.location,
        });
      }
    });
  }

  /**
   * For createBackend, as LocalBackend.createAt: the directory may be missing or empty. A config →
   * RepoError('REPO_EXISTS'); anything else in it, or a non-directory → RepoError('INVALID_ARGUMENT').
   */
  async createRepository(): Promise<void> {
    await this.run('create', '.', async (s) => {
      this.count('list');
      const entries = await ops.readdir(s.sftp, this.remote('')).catch((err: unknown) => {
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) return [];
        throw err;
      });
      const names = entries.map((e) => e.filename).filter((n) => n !== '.' && n !== '..');
      if (names.includes('config'))
        throw new RepoError('REPO_EXISTS', `a repository already exists at ${this.location}`, { path: this.location });
      if (names.length > 0) {
        throw new RepoError(
          'INVALID_ARGUMENT',
          `cannot create a repository at ${this.location}: the directory is not empty`,
          { path: this.location },
        );
      }
    });
    await this.create();
  }

  async create(): Promise<void> {
    await this.run('create', '.', async (s) => {
      this.count('mkdir');
      await this.mkdirs(s, this.remote(''));
      const config = await ops.lstat(s.sftp, this.remote('config')).catch(() => undefined);
      if (config !== undefined)
        throw new RepoError('REPO_EXISTS', `a repository already exists at ${this.location}`, { path: this.location });
      const dirs = [
        ...FILE_TYPES.filter((t) => t !== 'config'),
        ...Array.from({ length: 256 }, (_, i) => `data/${i.toString(16).padStart(2, '0')}`),
      ];
      for (const t of dirs.slice(0, FILE_TYPES.length - 1)) await this.mkdirs(s, this.remote(t));
      // The 256 data/xx directories: all requests in flight at once.
      await Promise.all(dirs.slice(FILE_TYPES.length - 1).map((d) => this.mkdirs(s, this.remote(d))));
      this.requests.mkdir += dirs.length;
    });
  }

  async save(h: Handle, data: SaveData, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const rel = handleToPath(h);
    const signal = opts.signal;
    throwIfAborted(signal, rel);
    await this.run('save', rel, async (s) => {
      try {
        await this.writeAtomic(s, h, rel, data, signal);
      } catch (err) {
        // A missing data/xx (or keys/ …) directory is recreated once; a missing repository root is not.
        if (sftpStatusOf(err) !== SFTP_STATUS.NO_SUCH_FILE || h.type === 'config')
          throw await this.explainFailure(s, err, rel, data);
        const dir = path.posix.dirname(this.remote(rel));
        const parent = await ops.stat(s.sftp, path.posix.dirname(dir)).catch(() => undefined);
        if (parent === undefined) throw err;
        await ops.mkdir(s.sftp, dir, DIR_MODE).catch(() => undefined);
        await this.writeAtomic(s, h, rel, data, signal).catch(async (e: unknown) => {
          throw await this.explainFailure(s, e, rel, data);
        });
      }
    });
  }

  /** A generic SFTP "Failure" on save is most often a full disk: say so when statvfs@openssh.com agrees. */
  private async explainFailure(s: SftpSession, err: unknown, rel: string, data: SaveData): Promise<unknown> {
    if (sftpStatusOf(err) !== SFTP_STATUS.FAILURE || !s.alive) return err;
    const free = await ops.freeBytes(s.sftp, this.remote(path.posix.dirname(rel))).catch(() => undefined);
    if (free === undefined || free >= saveDataLength(data)) return err;
    return new BackendError(
      `sftp ${this.who}: remote disk full: cannot save ${rel} (${free} bytes free)`,
      { file: rel, backend: 'sftp' },
      { cause: err },
    );
  }

  private async writeAtomic(
    s: SftpSession,
    h: Handle,
    rel: string,
    data: SaveData,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const final = this.remote(rel);
    const tmp = path.posix.join(path.posix.dirname(final), SFTP_TEMP_PREFIX + randomBytes(16).toString('hex'));
    this.count('open');
    const handle = await ops.open(s.sftp, tmp, 'wx', { mode: FILE_MODE });
    let open = true;
    let renamed = false;
    try {
      this.count('write');
      await writeParts(s.sftp, handle, saveDataParts(data), s.writeChunk, () => throwIfAborted(signal, rel));
      if (s.fsync) {
        this.count('fsync');
        await ops.fsync(s.sftp, handle);
      }
      open = false;
      await ops.close(s.sftp, handle);
      throwIfAborted(signal, rel);
      this.count('rename');
      await this.renameOver(s, h, tmp, final);
      renamed = true;
    } finally {
      // On a live connection nothing is left behind; after a drop, cleanupTemporaryFiles removes it later.
      if (!renamed && s.alive) {
        if (open) await ops.close(s.sftp, handle).catch(() => undefined);
        await ops.unlink(s.sftp, tmp).catch(() => undefined);
      }
    }
  }

  /** posix-rename@openssh.com replaces atomically; without it, SFTP's rename refuses an existing target. */
  private async renameOver(s: SftpSession, h: Handle, tmp: string, final: string): Promise<void> {
    if (s.posixRename) {
      await ops.posixRename(s.sftp, tmp, final);
      return;
    }
    try {
      await ops.rename(s.sftp, tmp, final);
    } catch (err) {
      const existing = await ops.stat(s.sftp, final).catch(() => undefined);
      if (existing === undefined || !s.alive) throw err;
      // Content-addressed files with the same name hold the same bytes: the stored one stays.
      if (h.type !== 'config') {
        await ops.unlink(s.sftp, tmp).catch(() => undefined);
        return;
      }
      await ops.unlink(s.sftp, final);
      await ops.rename(s.sftp, tmp, final);
    }
  }

  async load(h: Handle, opts: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const rel = handleToPath(h);
    const signal = opts.signal;
    throwIfAborted(signal, rel);
    validateRangeArgs(opts.offset, opts.length, rel);
    return this.run('load', rel, async (s) => {
      this.count('open');
      const handle = await ops.open(s.sftp, this.remote(rel), 'r');
      try {
        const { size } = await ops.fstat(s.sftp, handle);
        const [start, end] = resolveRange(size, opts.offset, opts.length, rel);
        this.count('read');
        return await readFully(s.sftp, handle, start, end - start, s.readChunk, () => throwIfAborted(signal, rel));
      } finally {
        if (s.alive) await ops.close(s.sftp, handle).catch(() => undefined);
      }
    });
  }

  async stat(h: Handle): Promise<FileInfo> {
    const rel = handleToPath(h);
    return this.run('stat', rel, async (s) => {
      this.count('stat');
      const st = await ops.stat(s.sftp, this.remote(rel));
      return { name: h.name, size: st.size };
    });
  }

  async exists(h: Handle): Promise<boolean> {
    return existsByStat(() => this.stat(h));
  }

  async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    const signal = opts.signal;
    throwIfAborted(signal, type);
    if (type === 'config') {
      const info = await this.stat({ type: 'config', name: 'config' }).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
      if (info !== undefined) yield info;
      return;
    }
    if (type !== 'data') {
      yield* await this.listDir(type, undefined, type === 'audit');
      return;
    }
    const subdirs = (await this.readdir('data', false))!
      .filter((e) => SUBDIR_RE.test(e.filename) && isDirMode(e.attrs.mode))
      .map((e) => e.filename);
    for (let i = 0; i < subdirs.length; i += LIST_CONCURRENCY) {
      throwIfAborted(signal, type);
      const batch = await Promise.all(
        subdirs.slice(i, i + LIST_CONCURRENCY).map((sub) => this.listDir(`data/${sub}`, sub, true)),
      );
      for (const infos of batch) yield* infos;
    }
  }

  /** The entries of a directory; undefined when it is missing and `missingOk`. */
  private async readdir(
    rel: string,
    missingOk: boolean,
  ): Promise<{ filename: string; attrs: { mode: number; size: number; mtime: number } }[] | undefined> {
    return this.run('list', rel, async (s) => {
      this.count('readdir');
      try {
        return await ops.readdir(s.sftp, this.remote(rel));
      } catch (err) {
        if (missingOk && sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
        throw err;
      }
    });
  }

  /** The valid id files of one directory; with `prefix`, only ids starting with it (data/xx). */
  private async listDir(rel: string, prefix: string | undefined, missingOk: boolean): Promise<FileInfo[]> {
    const entries = (await this.readdir(rel, missingOk)) ?? [];
    // Anything that is not a 64-hex id (temporary files, stray files) is ignored.
    return entries
      .filter(
        (e) =>
          isIdHex(e.filename) && (prefix === undefined || e.filename.startsWith(prefix)) && isFileMode(e.attrs.mode),
      )
      .map((e) => ({ name: e.filename, size: e.attrs.size }));
  }

  async remove(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    await this.run(
      'remove',
      rel,
      async (s) => {
        this.count('remove');
        await ops.unlink(s.sftp, this.remote(rel));
      },
      { mayHaveSucceeded: true },
    );
  }

  /**
   * Removes `.tmp-*` files (left by crashed writers or dropped connections) older than `maxAgeMs`
   * (default one hour, so that writers still in progress are not disturbed). Returns how many.
   */
  async cleanupTemporaryFiles(maxAgeMs: number = TEMP_MAX_AGE_MS): Promise<number> {
    const cutoffSec = (Date.now() - maxAgeMs) / 1000;
    const dirs = ['', ...FILE_TYPES.filter((t) => t !== 'config')];
    for (const e of (await this.readdir('data', true)) ?? [])
      if (SUBDIR_RE.test(e.filename)) dirs.push(`data/${e.filename}`);
    let removed = 0;
    for (let i = 0; i < dirs.length; i += LIST_CONCURRENCY) {
      await Promise.all(
        dirs.slice(i, i + LIST_CONCURRENCY).map(async (rel) => {
          for (const e of (await this.readdir(rel, true)) ?? []) {
            if (!e.filename.startsWith(SFTP_TEMP_PREFIX) || !isFileMode(e.attrs.mode) || e.attrs.mtime >= cutoffSec)
              continue;
            const relFile = rel === '' ? e.filename : `${rel}/${e.filename}`;
            await this.run('remove', relFile, async (s) => {
              this.count('remove');
              await ops.unlink(s.sftp, this.remote(relFile)).catch((err: unknown) => {
                if (sftpStatusOf(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
              });
            });
            removed++;
          }
        }),
      );
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.session;
    this.session = undefined;
    const s = await pending?.catch(() => undefined);
    s?.end();
  }
}
