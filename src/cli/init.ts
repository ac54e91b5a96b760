// `repo init`: creates a new repository (layout, first key file, config) at the given location.
// Options are validated before anything is created, so a typo leaves no half-made directory behind.

import type { Command } from 'commander';
import { createBackend } from '../backend/index.js';
import { validateChunkerParams, type ChunkerParams } from '../chunker/chunker.js';
import { RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { CHEAP_TEST_SCRYPT } from '../crypto/kdf.js';
import { validateCompression } from '../repository/compression.js';
import { publicConfig, validatePackSize } from '../repository/config.js';
import { type ObjectLockPolicy, parseObjectLockMode, validateObjectLockPolicy } from '../backend/object-lock.js';
import { DEFAULT_CHUNKER_PARAMS as DEFAULT_CHUNKER } from '../chunker/index.js';
import { Repository, type InitOptions } from '../repository/repository.js';
import { Env } from './context.js';
import { addFromRepoFlags, fromLocation, openFromRepository, type FromRepoFlags } from './copy.js';
import { parseChunker, parseSize } from './parse.js';
import { recordAudit } from './audit-hook.js';

interface InitFlags extends FromRepoFlags {
  format?: string;
  chunker?: string;
  compression?: string;
  packSize?: string;
  copyChunkerParams?: boolean;
  objectLock?: string;
  lockDays?: string;
}

export function registerInit(program: Command): void {
  const cmd = program
    .command('init')
    .description('create a new repository')
    .option('--format <n>', 'repository format: 2 (keyed chunker, padded blobs) or 1 (readable by older versions)', '2')
    .option(
      '--chunker <min/avg/max>',
      "content-defined chunking sizes, e.g. 512K/1M/8M (fixed for the repository's lifetime)",
    )
    .option('--compression <mode>', 'default compression for new data: auto, off, max or a zstd level 1-22', 'auto')
    .option('--pack-size <size>', 'target size of pack files, 4M-128M', '16M')
    .option('--object-lock <mode>', 'S3 Object Lock: write every object locked, in compliance or governance mode')
    .option('--lock-days <n>', 'with --object-lock: how many days each object stays locked (at least)')
    .option(
      '--copy-chunker-params',
      'use the chunker parameters of the --from-repo repository, so that copies between the two deduplicate',
    );
  addFromRepoFlags(cmd).action((flags: InitFlags, c: Command) => runInit(Env.from(c), flags));
}

/** The source repository's chunker parameters for --copy-chunker-params (read from its config; no lock needed). */
async function sourceChunker(env: Env, flags: InitFlags): Promise<ChunkerParams | undefined> {
  if (flags.copyChunkerParams !== true) {
    if (flags.fromRepo !== undefined)
      throw new RepoError('INVALID_ARGUMENT', '--from-repo is only used with --copy-chunker-params here');
    return undefined;
  }
  if (flags.chunker !== undefined)
    throw new RepoError('INVALID_ARGUMENT', '--copy-chunker-params and --chunker cannot be combined');
  if (fromLocation(flags) === undefined) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      '--copy-chunker-params needs the source repository: use --from-repo or set REPO_FROM_REPOSITORY',
    );
  }
  const src = await openFromRepository(env, flags, { skipIndex: true, workers: 0 });
  try {
    return { ...src.config.chunker };
  } finally {
    await src.close().catch(() => undefined);
  }
}

/** The --object-lock/--lock-days pair: both or neither. */
function objectLockFlags(flags: InitFlags): ObjectLockPolicy | undefined {
  if (flags.objectLock === undefined && flags.lockDays === undefined) return undefined;
  if (flags.objectLock === undefined || flags.lockDays === undefined) {
    throw new RepoError('INVALID_ARGUMENT', '--object-lock and --lock-days must be given together');
  }
  const days = /^\d+$/.test(flags.lockDays) ? Number(flags.lockDays) : NaN;
  return validateObjectLockPolicy({ mode: parseObjectLockMode(flags.objectLock), days });
}

async function runInit(env: Env, flags: InitFlags): Promise<void> {
  const location = env.location;
  const objectLock = objectLockFlags(flags);
  const compression = validateCompression(flags.compression ?? 'auto');
  const packSize = validatePackSize(parseSize(flags.packSize ?? '16M', '--pack-size'));
  const format = parseFormat(flags.format ?? '2');
  const copied = await sourceChunker(env, flags);
  const chunker = validateChunkerParams(
    copied ?? (flags.chunker === undefined ? DEFAULT_CHUNKER : parseChunker(flags.chunker)),
  );
  if (copied !== undefined && (copied.algorithm === 'gear-keyed') !== (format === 2)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `--copy-chunker-params: the source repository is format ${copied.algorithm === 'gear-keyed' ? 2 : 1}; ` +
        `give the same --format`,
    );
  }
  const password = await env.password(true);
  const opts: InitOptions = { format, chunker, compression, packSize };
  if (objectLock !== undefined) opts.objectLock = objectLock;
  // REPO_TEST_KDF=cheap is for the test suite only (deliberately not in --help): it writes a key file
  // that is far too cheap to brute-force-protect a real repository. Without it scrypt is calibrated (~0.5 s).
  if (process.env.REPO_TEST_KDF === 'cheap') opts.kdf = CHEAP_TEST_SCRYPT;
  const backend = await createBackend(location, {
    ...env.backendOptions(true),
    cache: false,
    ...(objectLock === undefined ? {} : { objectLock }),
  });
  let repo: Repository;
  try {
    repo = await Repository.init(backend, password, opts);
    await recordAudit(repo, { operation: 'init', result: 'success' }, (m) => env.out.warn(m));
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw err;
  }
  await repo.close();
  const c = repo.config;
  if (env.out.json) {
    env.out.printJson({
      message_type: 'initialized',
      id: c.id,
      repository: backend.location,
      location: backend.location,
      chunker: publicConfig(c).chunker,
      compression: c.compression,
      pack_size: c.pack_size,
      ...(c.object_lock === undefined ? {} : { object_lock: c.object_lock }),
    });
    return;
  }
  // backend.location, not the argument: a location string may hold credentials, the backend's form never does.
  env.out.info(`created repository ${shortId(c.id)} at ${backend.location}`);
  if (objectLock !== undefined) {
    env.out.info(
      `every file but locks and index is written with a ${objectLock.mode} object lock of ${objectLock.days} days`,
    );
  }
  env.out.info('');
  env.out.info('Please note that knowledge of your password is required to access the repository.');
  env.out.info('Losing your password means that your data is irrecoverably lost.');
}

function parseFormat(value: string): 1 | 2 {
  if (value === '1' || value === '2') return Number(value) as 1 | 2;
  throw new RepoError('INVALID_ARGUMENT', `--format must be 1 or 2, got ${JSON.stringify(value)}`);
}
