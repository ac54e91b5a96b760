// `repo init`: creates a new repository (layout, first key file, config) at the given location.
// Options are validated before anything is created, so a typo leaves no half-made directory behind.

import type { Command } from 'commander';
import { createBackend } from '../backend/index.js';
import { validateChunkerParams } from '../chunker/chunker.js';
import { shortId } from '../core/id.js';
import { CHEAP_TEST_SCRYPT } from '../crypto/kdf.js';
import { validateCompression } from '../repository/compression.js';
import { validatePackSize } from '../repository/config.js';
import { DEFAULT_CHUNKER_PARAMS as DEFAULT_CHUNKER } from '../chunker/index.js';
import { Repository, type InitOptions } from '../repository/repository.js';
import { Env } from './context.js';
import { parseChunker, parseSize } from './parse.js';

interface InitFlags {
  chunker?: string;
  compression?: string;
  packSize?: string;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a new repository')
    .option('--chunker <min/avg/max>', 'content-defined chunking sizes, e.g. 512K/1M/8M (fixed for the repository\'s lifetime)')
    .option('--compression <mode>', 'default compression for new data: auto, off, max or a zstd level 1-22', 'auto')
    .option('--pack-size <size>', 'target size of pack files, 4M-128M', '16M')
    .action((flags: InitFlags, cmd: Command) => runInit(Env.from(cmd), flags));
}

async function runInit(env: Env, flags: InitFlags): Promise<void> {
  const location = env.location;
  const chunker = validateChunkerParams(flags.chunker === undefined ? DEFAULT_CHUNKER : parseChunker(flags.chunker));
  const compression = validateCompression(flags.compression ?? 'auto');
  const packSize = validatePackSize(parseSize(flags.packSize ?? '16M', '--pack-size'));
  const password = await env.password(true);
  const opts: InitOptions = { chunker, compression, packSize };
  // REPO_TEST_KDF=cheap is for the test suite only (deliberately not in --help): it writes a key file
  // that is far too cheap to brute-force-protect a real repository. Without it scrypt is calibrated (~0.5 s).
  if (process.env.REPO_TEST_KDF === 'cheap') opts.kdf = CHEAP_TEST_SCRYPT;
  const backend = await createBackend(location);
  let repo: Repository;
  try {
    repo = await Repository.init(backend, password, opts);
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw err;
  }
  await repo.close();
  const c = repo.config;
  if (env.out.json) {
    env.out.printJson({ id: c.id, location: backend.location, chunker: c.chunker, compression: c.compression, pack_size: c.pack_size });
    return;
  }
  // backend.location, not the argument: a location string may hold credentials, the backend's form never does.
  env.out.info(`created repository ${shortId(c.id)} at ${backend.location}`);
  env.out.info('');
  env.out.info('Please note that knowledge of your password is required to access the repository.');
  env.out.info('Losing your password means that your data is irrecoverably lost.');
}
