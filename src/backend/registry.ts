// The scheme registry: each kind of storage contributes one SchemeFactory (how to parse `scheme:REST` and how
// to connect), and openBackend asks the registry instead of testing schemes one by one.
// Must never echo the text of a location in an error (it may hold credentials).

import type { ObjectLockPolicy } from './object-lock.js';
import { RepoError } from '../core/errors.js';
import type { Backend } from './backend.js';
import type { CacheOptions } from './cache.js';
import type { RetryOptions } from './retry.js';
import type { S3Options } from './s3-location.js';
import type { SftpOptions } from './sftp-location.js';

/** How openBackend / createBackend build a backend; every field is optional. */
export interface OpenOptions {
  /** S3 options; they win over the REPO_S3_* variables of `env`. */
  s3?: S3Options;
  /** Where the SFTP backend finds ~/.ssh (config, known_hosts, keys); default from `env`'s HOME. */
  sftp?: SftpOptions;
  /** Retry policy for remote backends (attempts, delays, onRetry, a backend-wide abort signal). */
  retry?: RetryOptions;
  /** Environment to read REPO_S3_*, AWS_* and the like from; default process.env. */
  env?: Record<string, string | undefined>;
  /**
   * A local cache of index files, snapshot files and tree packs (CacheBackend) for remote repositories;
   * default none (the CLI passes one unless --no-cache). Local repositories get one only with `local: true`.
   */
  cache?: (CacheOptions & { local?: boolean }) | false;
  /** TLS for https: remotes: PEM files of extra CAs to trust and of a client certificate with its key. */
  tls?: { caFiles?: readonly string[]; clientCertFile?: string };
  /** Bandwidth limits of remote backends in KiB/s (restic's --limit-upload / --limit-download); 0 or absent: none. */
  limits?: { uploadKiBps?: number; downloadKiBps?: number };
  /** Backend-specific `-o key=value` options (e.g. `rclone.program`, `rest.connections`); each scheme reads its own prefix. */
  extended?: Readonly<Record<string, string>>;
  /**
   * For createBackend (init --object-lock): the storage must offer Object Lock, and is told the policy before it creates
   * anything (an S3 bucket made then has Object Lock enabled, which cannot be switched on later).
   */
  objectLock?: ObjectLockPolicy;
}

/** The `-o` keys the schemes read (rclone.ts, rest-location.ts); any other key is refused. */
export const EXTENDED_OPTIONS: readonly string[] = [
  'rest.connections',
  'rclone.program',
  'rclone.args',
  'rclone.connections',
];

/** A raw backend as a factory returns it, with the checks openBackend / createBackend run under retry. */
export interface ConnectedBackend {
  backend: Backend;
  /** For opening: succeeds if the repository's config exists, else REPO_NOT_FOUND / NOT_A_REPOSITORY. */
  checkRepository?: () => Promise<void>;
  /** For init, after create(): INVALID_ARGUMENT unless the place holds nothing yet. */
  checkEmpty?: () => Promise<void>;
  /** For init, instead of create() and checkEmpty (e.g. SFTP checks the directory first, then creates the layout). */
  createRepository?: () => Promise<void>;
}

/** One kind of storage: its scheme, its location grammar and how to reach it. */
export interface SchemeFactory<L extends object = object> {
  /** The text before the first ':' (at least two characters, so that "C:\x" stays a path). */
  readonly scheme: string;
  /** The location grammar, shown when a scheme is unknown. */
  readonly syntax: string;
  /** Remote storage gets bandwidth limits, retries and the local cache; a local directory does not. */
  readonly remote: boolean;
  /** Parses what follows "scheme:"; throws RepoError('INVALID_ARGUMENT') without echoing the input. */
  parse(rest: string): L;
  /** Builds the raw backend; `mode` says whether the repository must exist or is being created. */
  connect(loc: L, options: OpenOptions, mode: 'open' | 'create'): Promise<ConnectedBackend>;
}

/** Factories by scheme; `local` also serves plain paths. */
export class SchemeRegistry {
  private readonly factories = new Map<string, SchemeFactory>();

  /** Adds a factory; a scheme registered twice is a programming error. */
  register<L extends object>(factory: SchemeFactory<L>): this {
    if (this.factories.has(factory.scheme)) throw new Error(`backend scheme ${factory.scheme} registered twice`);
    this.factories.set(factory.scheme, factory as unknown as SchemeFactory);
    return this;
  }

  lookup(scheme: string): SchemeFactory | undefined {
    return this.factories.get(scheme);
  }

  /** The factory for `scheme`, or INVALID_ARGUMENT listing the known grammars (only the scheme is echoed). */
  get(scheme: string): SchemeFactory {
    const f = this.factories.get(scheme);
    if (f !== undefined) return f;
    const known = [...this.factories.values()].map((x) => x.syntax).join(', ');
    throw new RepoError(
      'INVALID_ARGUMENT',
      `unknown repository scheme ${JSON.stringify(scheme)} (supported: ${known}; ` +
        `to use a directory whose name contains ':', write it as ./NAME or local:NAME)`,
      { scheme },
    );
  }
}
