// What a key file (spec §4) and a recovery file (spec §17.1) share, under the same member names: the 64-byte
// master key sealed under scrypt(passphrase, salt, N, r, p). Each file adds its own members around these (a key
// file: hostname and username, as restic's key files; a recovery file: kind and the repository id its AAD binds)
// and keeps its own order of members, which its storage id or its users' copies depend on.
// Passphrases and derived keys never leave this module.

import { FormatError, IntegrityError } from '../core/errors.js';
import { deriveKey, validateScryptParams, type LaneThreads, type ScryptParams } from '../crypto/kdf.js';
import { randomBytes } from '../crypto/random.js';
import { XaesKey } from '../crypto/xaes.js';
import { MasterKey } from './master-key.js';

/** The shared members, in the order both files write them. */
export interface SealedKey {
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  created: string;
  data: string;
}

/** Seals `master` under a key derived from `passphrase` (a new random salt) with `aad`. */
export async function sealMasterKey(
  passphrase: string,
  master: MasterKey,
  aad: Buffer,
  params: ScryptParams,
  now: Date,
): Promise<SealedKey> {
  validateScryptParams(params);
  const salt = Buffer.from(randomBytes(32));
  const kek = new XaesKey(await deriveKey(passphrase, salt, params));
  return {
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    created: now.toISOString(),
    data: kek.seal(master.bytes(), aad).toString('base64'),
  };
}

/** Checks the shared members of a parsed file named `what` (e.g. "key file 1a2b…"): FORMAT when they cannot work. */
export function checkSealedKey(f: SealedKey, what: string, ctx: Record<string, string>): void {
  if (f.kdf !== 'scrypt') throw new FormatError(`${what} has an unknown version or KDF`, ctx);
  if (typeof f.salt !== 'string' || typeof f.data !== 'string') throw new FormatError(`${what} is incomplete`, ctx);
  try {
    validateScryptParams({ N: f.N, r: f.r, p: f.p });
  } catch (err) {
    throw new FormatError(`${what} has unacceptable KDF parameters`, ctx, { cause: err });
  }
}

/**
 * The master key when `passphrase` opens `f` (named `what`) with `aad`; undefined when it does not (a wrong
 * passphrase). `kdfThreads`: threads for the key derivation (deriveKey's default when undefined).
 */
export async function openSealedKey(
  f: SealedKey,
  passphrase: string,
  aad: Buffer,
  what: string,
  kdfThreads?: LaneThreads,
): Promise<MasterKey | undefined> {
  const salt = Buffer.from(f.salt, 'base64');
  const kek = new XaesKey(await deriveKey(passphrase, salt, { N: f.N, r: f.r, p: f.p }, kdfThreads));
  let plain: Buffer;
  try {
    plain = kek.open(Buffer.from(f.data, 'base64'), aad);
  } catch (err) {
    if (err instanceof IntegrityError) return undefined;
    throw err;
  }
  if (plain.length !== 64) throw new FormatError(`${what} holds a master key of the wrong length`, {});
  return MasterKey.fromBytes(plain);
}
