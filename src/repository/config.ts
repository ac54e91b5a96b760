// The repository config (spec §5): format version, id, chunker parameters, defaults for new data.
// Parsing treats the decrypted JSON as untrusted and validates every member it uses.

import { FormatError, RepoError, errorMessage } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import type { ChunkerParams } from '../chunker/chunker.js';
import { validateChunkerParams } from '../chunker/chunker.js';
import { validateCompression } from './compression.js';
import { objectLockOf } from './object-lock-config.js';

export const FORMAT_VERSION = 1;
export const MIN_PACK_SIZE = 4 * 1024 * 1024;
export const MAX_PACK_SIZE = 128 * 1024 * 1024;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface RepoConfig {
  version: number;
  id: string;
  chunker: ChunkerParams;
  compression: string;
  pack_size: number;
  created: string;
  /** S3 Object Lock policy (spec §5); absent for a repository without Object Lock. */
  object_lock?: { mode: string; days: number };
  [extra: string]: unknown; // unknown members are preserved (spec §5)
}

export function validatePackSize(n: number): number {
  if (!Number.isInteger(n) || n < MIN_PACK_SIZE || n > MAX_PACK_SIZE) {
    throw new RepoError('INVALID_ARGUMENT', `pack size must be between 4 MiB and 128 MiB, got ${n} bytes`);
  }
  return n;
}

export function parseConfig(plain: Buffer): RepoConfig {
  const ctx = { file: 'config' };
  let c: RepoConfig;
  try {
    c = JSON.parse(plain.toString('utf8'));
  } catch (err) {
    throw new FormatError('config is not valid JSON', ctx, { cause: err });
  }
  if (typeof c !== 'object' || c === null) throw new FormatError('config is not a JSON object', ctx);
  if (typeof c.version !== 'number') throw new FormatError('config has no version', ctx);
  if (c.version > FORMAT_VERSION) {
    throw new FormatError(
      `repository format version ${c.version} is newer than this program supports (${FORMAT_VERSION}); upgrade repo`,
      ctx,
    );
  }
  if (c.version !== FORMAT_VERSION) throw new FormatError(`unknown repository format version ${c.version}`, ctx);
  if (typeof c.id !== 'string' || !isIdHex(c.id)) throw new FormatError('config has an invalid repository id', ctx);
  try {
    validateChunkerParams(c.chunker);
    validateCompression(c.compression);
    validatePackSize(c.pack_size);
  } catch (err) {
    throw new FormatError(`config is invalid: ${errorMessage(err)}`, ctx, { cause: err });
  }
  objectLockOf(c); // validates the optional Object Lock policy
  return c;
}

export function encodeConfig(c: RepoConfig): Buffer {
  return Buffer.from(JSON.stringify(c), 'utf8');
}
