// The repository config (spec §5): format version, id, chunker parameters, defaults for new data.
// Parsing treats the decrypted JSON as untrusted and validates every member it uses.

import { FormatError, RepoError, errorMessage } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import type { ChunkerParams } from '../chunker/chunker.js';
import { validateChunkerParams } from '../chunker/chunker.js';
import { CHUNKER_SECRET_LENGTH } from '../chunker/keyed-gear.js';
import { randomBytes } from '../crypto/random.js';
import { validateCompression } from './compression.js';
import { objectLockOf } from './object-lock-config.js';

import { FORMAT_VERSION } from '../core/version.js';
export { FORMAT_VERSION };
/** Every format this program reads (format 1 stays readable forever). */
export const SUPPORTED_FORMATS: readonly number[] = [1, 2];
/** Format 2's length hiding of sealed blobs (spec/format-2.md §4). */
export const PADME_PADDING = 'padme' as const;
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
  /** Format 2: "padme" (every blob's stored bytes padded to a Padmé size class). Absent in format 1. */
  blob_padding?: string;
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
  if (!SUPPORTED_FORMATS.includes(c.version))
    throw new FormatError(`unknown repository format version ${c.version}`, ctx);
  if (typeof c.id !== 'string' || !isIdHex(c.id)) throw new FormatError('config has an invalid repository id', ctx);
  try {
    const chunker = validateChunkerParams(c.chunker);
    validateCompression(c.compression);
    validatePackSize(c.pack_size);
    checkFormatFields(c.version, chunker.algorithm, c.blob_padding);
  } catch (err) {
    throw new FormatError(`config is invalid: ${errorMessage(err)}`, ctx, { cause: err });
  }
  objectLockOf(c); // validates the optional Object Lock policy
  return c;
}

/** The members that tell format 1 from format 2 (spec/format-2.md §2) must agree with the version. */
function checkFormatFields(version: number, algorithm: string, padding: unknown): void {
  if (version === 1 && algorithm !== 'fastcdc-ronomon')
    throw new RepoError('INVALID_ARGUMENT', `format 1 uses chunker fastcdc-ronomon, not ${algorithm}`);
  if (version === 2 && algorithm !== 'gear-keyed')
    throw new RepoError('INVALID_ARGUMENT', `format 2 uses chunker gear-keyed, not ${algorithm}`);
  if (version === 2 && padding !== PADME_PADDING)
    throw new RepoError('INVALID_ARGUMENT', `format 2 needs blob_padding "${PADME_PADDING}"`);
}

/**
 * The chunker a new repository (or a migrated one) of `version` gets for the sizes of `params`: format 1 cuts with
 * public FastCDC, format 2 with the keyed gear chunker and `params.secret` if it has one (shared with
 * --copy-chunker-params), else a fresh random secret.
 */
export function chunkerForFormat(version: number, params: ChunkerParams): ChunkerParams {
  const { min, avg, max } = params;
  if (version === 1) return validateChunkerParams({ algorithm: 'fastcdc-ronomon', min, avg, max });
  const secret = params.secret ?? Buffer.from(randomBytes(CHUNKER_SECRET_LENGTH)).toString('hex');
  return validateChunkerParams({ algorithm: 'gear-keyed', min, avg, max, secret });
}

/** Whether new blobs of this repository are padded (format 2). */
export function padsBlobs(c: RepoConfig): boolean {
  return c.version >= 2;
}

/** The config with the chunker secret left out, for printing (init --json, cat config). */
export function publicConfig(c: RepoConfig): RepoConfig {
  const { secret, ...chunker } = c.chunker;
  return secret === undefined ? c : { ...c, chunker: { ...chunker } };
}

export function encodeConfig(c: RepoConfig): Buffer {
  return Buffer.from(JSON.stringify(c), 'utf8');
}
