// Turns a user-supplied repository location into a Backend; the one place where wrappers get stacked.
// Must never create anything when opening, and never echo credentials from a location in errors.

import { RepoError, errorMessage, isRepoError } from '../core/errors.js';
import { LocalBackend } from './local.js';
import type { Backend } from './backend.js';
import { CacheBackend } from './cache.js';
import { RateLimitedBackend } from './rate-limit.js';
import type { ConnectedBackend, OpenOptions, SchemeFactory } from './registry.js';
import { RetryBackend } from './retry.js';
import { SCHEMES } from './schemes.js';
import { layers } from './stack.js';

export type { OpenOptions } from './registry.js';

/** A parsed repository location: its scheme and what that scheme's parser made of the rest. */
export type ParsedLocation = { scheme: string } & Record<string, unknown>;

// A scheme is at least two characters so that Windows drive letters ("C:\repo") stay paths.
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]+):/;

function resolve(location: string): { factory: SchemeFactory; loc: object } {
  if (typeof location !== 'string' || location === '') {
    throw new RepoError('INVALID_ARGUMENT', 'no repository location given');
  }
  const m = SCHEME_RE.exec(location);
  if (m === null) return { factory: SCHEMES.get('local'), loc: { path: location } };
  const factory = SCHEMES.get(m[1]); // unknown: only the scheme is echoed, the rest may hold credentials
  return { factory, loc: factory.parse(location.slice(m[0].length)) };
}

/**
 * Parses a location: a plain path or `local:PATH` → local; otherwise `scheme:REST` parsed by that scheme's
 * factory (schemes.ts lists them). Unknown scheme or empty → RepoError('INVALID_ARGUMENT').
 */
export function parseLocation(location: string): ParsedLocation {
  const { factory, loc } = resolve(location);
  return { scheme: factory.scheme, ...loc };
}

/**
 * The stacking order, innermost first, kept in this one function:
 *   local directory → LocalBackend, unwrapped (its failures — full disk, permissions — are not
 *                     transient, so retrying would only delay the error); → CacheBackend only when
 *                     options.cache.local is set (a local repository is as fast as the cache);
 *   remote          → raw backend → RateLimitedBackend (with --limit-upload/--limit-download, so that
 *                     repeated attempts are limited too) → RetryBackend → CacheBackend (when options.cache
 *                     is given), so that the cache's fetches are retried and its hits cost no request at all.
 */
function stack(raw: Backend, remote: boolean, options: OpenOptions): Backend {
  const cache = options.cache === undefined || options.cache === false ? undefined : options.cache;
  if (!remote) return cache?.local === true ? new CacheBackend(raw, cache) : raw;
  const up = options.limits?.uploadKiBps ?? 0;
  const down = options.limits?.downloadKiBps ?? 0;
  const limited = up > 0 || down > 0 ? new RateLimitedBackend(raw, { uploadKiBps: up, downloadKiBps: down }) : raw;
  const retrying = new RetryBackend(limited, options.retry);
  return cache === undefined ? retrying : new CacheBackend(retrying, cache);
}

/** Runs a backend-specific call under the stack's retry policy, if it has one. */
function retried<T>(b: Backend, op: string, fn: () => Promise<T>): Promise<T> {
  for (const layer of layers(b)) if (layer instanceof RetryBackend) return layer.run(op, undefined, fn);
  return fn();
}

/**
 * Requests sent by the innermost backend of a stack that counts them (S3Backend.requests, RestBackend.requests),
 * by operation; undefined for backends that do not count (local directories).
 */
export function requestCounts(b: Backend): Record<string, number> | undefined {
  for (const layer of layers(b)) {
    const r = (layer as { requests?: unknown }).requests;
    if (r !== null && typeof r === 'object') return { ...(r as Record<string, number>) };
  }
  return undefined;
}

/** Closes b and rethrows err (a failed open must not leave sockets or child processes behind). */
async function closeAndThrow(b: Backend, err: unknown): Promise<never> {
  await b.close().catch(() => undefined);
  throw err;
}

async function connect(
  location: string,
  options: OpenOptions,
  mode: 'open' | 'create',
): Promise<{ b: Backend; c: ConnectedBackend }> {
  const { factory, loc } = resolve(location);
  const c = await factory.connect(loc, options, mode);
  try {
    return { b: stack(c.backend, factory.remote, options), c };
  } catch (err) {
    return closeAndThrow(c.backend, err);
  }
}

/**
 * Opens the existing repository at `location`. Creates nothing. Local: see LocalBackend.open.
 * Remote: a missing bucket or server path → RepoError('REPO_NOT_FOUND'); no config → RepoError('NOT_A_REPOSITORY').
 */
export async function openBackend(location: string, options: OpenOptions = {}): Promise<Backend> {
  const { b, c } = await connect(location, options, 'open');
  try {
    if (c.checkRepository !== undefined) await retried(b, 'open', c.checkRepository);
  } catch (err) {
    return closeAndThrow(b, err);
  }
  return b;
}

/**
 * Creates the layout of a new repository at `location` (for init). Local: see LocalBackend.createAt.
 * Remote: creates the bucket or server path if missing; a config there → RepoError('REPO_EXISTS'); any
 * other file → RepoError('INVALID_ARGUMENT'), like a non-empty local directory.
 */
export async function createBackend(location: string, options: OpenOptions = {}): Promise<Backend> {
  const { b, c } = await connect(location, options, 'create');
  try {
    if (options.objectLock !== undefined) {
      const lock = b.retention?.();
      if (lock === undefined) {
        throw new RepoError(
          'INVALID_ARGUMENT',
          `--object-lock needs an s3: repository; ${b.location} cannot lock objects`,
        );
      }
      lock.setWritePolicy(options.objectLock);
    }
    if (c.createRepository !== undefined) {
      await retried(b, 'create', c.createRepository);
    } else if (c.checkEmpty !== undefined) {
      await b.create();
      await retried(b, 'create', c.checkEmpty);
    }
  } catch (err) {
    return closeAndThrow(b, err);
  }
  return b;
}

/**
 * Opens the storage at `location` whether or not it still holds a config: for finishing `destroy
 * --crypto-erase`, which removes the config before the rest. A missing location is still REPO_NOT_FOUND.
 */
export async function openBackendWithoutConfig(location: string, options: OpenOptions = {}): Promise<Backend> {
  const { factory, loc } = resolve(location);
  if (factory.scheme === 'local') {
    try {
      return await openBackend(location, options);
    } catch (err) {
      if (!isRepoError(err, 'NOT_A_REPOSITORY') || /not a directory/.test(errorMessage(err))) throw err;
      return stack(new LocalBackend((loc as { path: string }).path), false, options);
    }
  }
  const { b, c } = await connect(location, options, 'open');
  try {
    if (c.checkRepository !== undefined) await retried(b, 'open', c.checkRepository);
  } catch (err) {
    if (!isRepoError(err, 'NOT_A_REPOSITORY')) return closeAndThrow(b, err);
  }
  return b;
}
