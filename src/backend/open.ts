// Turns a user-supplied repository location into a Backend; the one place where wrappers get stacked.
// Must never create anything when opening, and never echo credentials from a location in errors.

import { RepoError } from '../core/errors.js';
import type { Backend } from './backend.js';
import { CacheBackend, type CacheOptions } from './cache.js';
import { LocalBackend } from './local.js';
import { RetryBackend, type RetryOptions } from './retry.js';
import type { S3Backend } from './s3.js';
import { type S3Location, type S3Options, parseS3Location, s3ConfigFor } from './s3-location.js';
import type { SftpBackend } from './sftp.js';
import { type SftpLocation, type SftpOptions, formatSftpLocation, parseSftpLocation, resolveSftpTarget } from './sftp-location.js';

/** A parsed repository location: a local directory or an S3 bucket and prefix. */
export type ParsedLocation = { scheme: 'local'; path: string } | ({ scheme: 's3' } & S3Location) | ({ scheme: 'sftp' } & SftpLocation);

/** How openBackend / createBackend build a backend; every field is optional. */
export interface OpenOptions {
  /** S3 options; they win over the REPO_S3_* variables of `env`. */
  s3?: S3Options;
  /** Where the SFTP backend finds ~/.ssh (config, known_hosts, keys); default from `env`'s HOME. */
  sftp?: SftpOptions;
  /** Retry policy for remote backends (attempts, delays, onRetry, a backend-wide abort signal). */
  retry?: RetryOptions;
  /** Environment to read REPO_S3_* and AWS_REGION/AWS_DEFAULT_REGION from; default process.env. */
  env?: Record<string, string | undefined>;
  /**
   * A local cache of index files, snapshot files and tree packs (CacheBackend) for remote repositories;
   * default none (the CLI passes one unless --no-cache). Local repositories get one only with `local: true`.
   */
  cache?: (CacheOptions & { local?: boolean }) | false;
}

// A scheme is at least two characters so that Windows drive letters ("C:\repo") stay paths.
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]+):/;

/**
 * Parses a location: `local:PATH` or a plain path → local; `s3:https://HOST[:PORT]/BUCKET[/PREFIX]`,
 * `s3:http://…` or `s3:BUCKET[/PREFIX]` → S3 (see parseS3Location). Any other `scheme:` prefix →
 * RepoError('INVALID_ARGUMENT', 'unknown repository scheme …'). Empty → INVALID_ARGUMENT.
 */
export function parseLocation(location: string): ParsedLocation {
  if (typeof location !== 'string' || location === '') {
    throw new RepoError('INVALID_ARGUMENT', 'no repository location given');
  }
  const m = SCHEME_RE.exec(location);
  if (m === null) return { scheme: 'local', path: location };
  const scheme = m[1];
  const rest = location.slice(m[0].length);
  if (scheme === 'local') {
    if (rest === '') throw new RepoError('INVALID_ARGUMENT', 'no path given after "local:"');
    return { scheme: 'local', path: rest };
  }
  if (scheme === 's3') return { scheme: 's3', ...parseS3Location(rest) };
  if (scheme === 'sftp') return { scheme: 'sftp', ...parseSftpLocation(rest) };
  // Only the scheme is echoed: the rest of a location may hold credentials.
  throw new RepoError(
    'INVALID_ARGUMENT',
    `unknown repository scheme ${JSON.stringify(scheme)} (supported: a local path or local:PATH, ` +
      `s3:https://HOST/BUCKET[/PREFIX] or s3:BUCKET[/PREFIX], sftp:[USER@]HOST:/PATH or sftp://[USER@]HOST[:PORT]//PATH; ` +
      `to use a directory whose name contains ':', write it as ./NAME or local:NAME)`,
    { scheme },
  );
}

/**
 * The stacking order, innermost first, kept in this one function:
 *   local directory → LocalBackend, unwrapped (its failures — full disk, permissions — are not
 *                     transient, so retrying would only delay the error); → CacheBackend only when
 *                     options.cache.local is set (a local repository is as fast as the cache);
 *   s3, sftp        → S3Backend or SftpBackend → RetryBackend → CacheBackend (when options.cache is given), so that
 *                     the cache's fetches are retried and its hits cost no request at all.
 */
function stack(raw: Backend, loc: ParsedLocation, options: OpenOptions): Backend {
  const cache = options.cache === undefined || options.cache === false ? undefined : options.cache;
  switch (loc.scheme) {
    case 'local':
      return cache?.local === true ? new CacheBackend(raw, cache) : raw;
    case 's3':
    case 'sftp': {
      const retrying = new RetryBackend(raw, options.retry);
      return cache === undefined ? retrying : new CacheBackend(retrying, cache);
    }
  }
}

/** Runs a backend-specific call under the stack's retry policy, if it has one. */
function retried<T>(b: Backend, op: string, fn: () => Promise<T>): Promise<T> {
  for (let cur: Backend | undefined = b; cur !== undefined; cur = (cur as { inner?: Backend }).inner) {
    if (cur instanceof RetryBackend) return cur.run(op, undefined, fn);
  }
  return fn();
}

/**
 * Requests sent by the innermost backend of a stack that counts them (S3Backend.requests), by
 * operation; undefined for backends that do not count (local directories).
 */
export function requestCounts(b: Backend): Record<string, number> | undefined {
  for (let cur: Backend | undefined = b, depth = 0; cur !== undefined && depth < 10; depth++) {
    const r = (cur as { requests?: unknown }).requests;
    if (r !== null && typeof r === 'object') return { ...(r as Record<string, number>) };
    cur = (cur as { inner?: Backend }).inner;
  }
  return undefined;
}

async function newS3Backend(loc: S3Location, options: OpenOptions): Promise<S3Backend> {
  const where: S3Location = { bucket: loc.bucket, prefix: loc.prefix };
  if (loc.endpoint !== undefined) where.endpoint = loc.endpoint;
  if (loc.region !== undefined) where.region = loc.region;
  const config = s3ConfigFor(where, options.s3, options.env ?? process.env);
  // Loaded on demand: the AWS SDK costs ~150 ms to import, which local repositories need not pay.
  const { S3Backend } = await import('./s3.js');
  return new S3Backend(config);
}

async function newSftpBackend(loc: SftpLocation, options: OpenOptions): Promise<SftpBackend> {
  const target = resolveSftpTarget(loc, options.sftp, options.env ?? process.env);
  // Loaded on demand, like the AWS SDK: only sftp: locations pay for ssh2.
  const { SftpBackend } = await import('./sftp.js');
  return new SftpBackend(target, formatSftpLocation(loc));
}

/** Closes b and rethrows err (a failed open must not leave sockets behind). */
async function closeAndThrow(b: Backend, err: unknown): Promise<never> {
  await b.close().catch(() => undefined);
  throw err;
}

/**
 * Opens the existing repository at `location`. Creates nothing. Local: see LocalBackend.open.
 * S3: a missing bucket → RepoError('REPO_NOT_FOUND'); no config under the prefix →
 * RepoError('NOT_A_REPOSITORY').
 */
export async function openBackend(location: string, options: OpenOptions = {}): Promise<Backend> {
  const loc = parseLocation(location);
  if (loc.scheme === 'local') return stack(await LocalBackend.open(loc.path), loc, options);
  if (loc.scheme === 'sftp') {
    const raw = await newSftpBackend(loc, options);
    const b = stack(raw, loc, options);
    return retried(b, 'open', () => raw.checkRepository()).then(() => b, (err: unknown) => closeAndThrow(b, err));
  }
  const raw = await newS3Backend(loc, options);
  const b = stack(raw, loc, options);
  try {
    await retried(b, 'open', () => raw.checkRepository());
  } catch (err) {
    return closeAndThrow(b, err);
  }
  return b;
}

/**
 * Creates the layout of a new repository at `location` (for init). Local: see LocalBackend.createAt.
 * S3: creates the bucket if it is missing (unless options.s3.createBucket is false); a config under
 * the prefix → RepoError('REPO_EXISTS'); any other object under the prefix (or in the bucket, without
 * a prefix) → RepoError('INVALID_ARGUMENT'), like a non-empty local directory.
 */
export async function createBackend(location: string, options: OpenOptions = {}): Promise<Backend> {
  const loc = parseLocation(location);
  if (loc.scheme === 'local') return stack(await LocalBackend.createAt(loc.path), loc, options);
  if (loc.scheme === 'sftp') {
    const raw = await newSftpBackend(loc, options);
    const b = stack(raw, loc, options);
    return retried(b, 'create', () => raw.createRepository()).then(() => b, (err: unknown) => closeAndThrow(b, err));
  }
  const raw = await newS3Backend(loc, options);
  const b = stack(raw, loc, options);
  try {
    await b.create();
    await retried(b, 'create', () => raw.checkEmpty());
  } catch (err) {
    return closeAndThrow(b, err);
  }
  return b;
}
