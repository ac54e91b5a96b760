// Key escrow (spec §17): the master key kept apart from the repository, so that losing every key file is not
// losing every backup. Two forms: a recovery file (the master key sealed under a separate recovery passphrase,
// bound to the repository id) and a printable recovery code (the master key itself with a checksum, for paper).
// Passphrases, derived keys and the master key never appear in an error message.

import { FormatError, RepoError } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import { blake3 } from '../crypto/blake3.js';
import type { ScryptParams } from '../crypto/kdf.js';
import { MasterKey } from './master-key.js';
import { checkSealedKey, openSealedKey, sealMasterKey, type SealedKey } from './sealed-key.js';

export const RECOVERY_KIND = 'repo-recovery';
const AAD_RECOVERY_PREFIX = Buffer.from('repo:v1:recovery\0', 'ascii');
const CODE_CHECK_PREFIX = Buffer.from('repo:v1:recovery-code', 'ascii');
const CODE_PREFIX = 'RK1';
// Crockford's base32: no I, L, O or U, so what is read off paper is hard to mistype.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHECK_BYTES = 4;

/** A recovery file's JSON members (spec §17.1): the shared sealed-key members after its kind and repository. */
export interface RecoveryFile extends SealedKey {
  version: 1;
  kind: typeof RECOVERY_KIND;
  repository: string;
}

function recoveryAad(repositoryId: string): Buffer {
  return Buffer.concat([AAD_RECOVERY_PREFIX, Buffer.from(repositoryId, 'ascii')]);
}

/** The recovery file's bytes: `master` sealed under `passphrase`, bound to the repository id. */
export async function createRecoveryFile(
  passphrase: string,
  master: MasterKey,
  repositoryId: string,
  params: ScryptParams,
  now = new Date(),
): Promise<Buffer> {
  if (passphrase === '') throw new RepoError('NO_PASSWORD', 'an empty recovery passphrase is not allowed');
  const sealed = await sealMasterKey(passphrase, master, recoveryAad(repositoryId), params, now);
  const file: RecoveryFile = { version: 1, kind: RECOVERY_KIND, repository: repositoryId, ...sealed };
  return Buffer.from(JSON.stringify(file, null, 2) + '\n', 'utf8');
}

/** Parses and checks a recovery file's members (not its passphrase). FORMAT for anything else. */
export function parseRecoveryFile(bytes: Buffer, where: string): RecoveryFile {
  const ctx = { path: where };
  let f: RecoveryFile;
  try {
    f = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FormatError(`${where} is not a recovery file (not JSON)`, ctx, { cause: err });
  }
  if (typeof f !== 'object' || f === null || f.kind !== RECOVERY_KIND)
    throw new FormatError(`${where} is not a recovery file`, ctx);
  if (f.version !== 1 || f.kdf !== 'scrypt')
    throw new FormatError(`recovery file ${where} has an unknown version or KDF`, ctx);
  if (typeof f.repository !== 'string' || !isIdHex(f.repository))
    throw new FormatError(`recovery file ${where} is incomplete`, ctx);
  checkSealedKey(f, `recovery file ${where}`, ctx);
  return f;
}

/** The master key of a recovery file; WRONG_PASSWORD when the passphrase does not open it. */
export async function openRecoveryFile(f: RecoveryFile, passphrase: string): Promise<MasterKey> {
  const master = await openSealedKey(f, passphrase, recoveryAad(f.repository), 'the recovery file');
  if (master === undefined)
    throw new RepoError('WRONG_PASSWORD', 'wrong recovery passphrase: the recovery file does not open with it');
  return master;
}

function codeCheck(key: Buffer): Buffer {
  return blake3(Buffer.concat([CODE_CHECK_PREFIX, key])).subarray(0, CODE_CHECK_BYTES);
}

/** The printable recovery code: "RK1-" and the master key with a 4-byte checksum in base32, in groups of 5. */
export function encodeRecoveryCode(master: MasterKey): string {
  const bytes = Buffer.concat([master.bytes(), codeCheck(master.bytes())]);
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return [CODE_PREFIX, ...(out.match(/.{1,5}/g) ?? [])].join('-');
}

/**
 * The master key a recovery code holds. Case, spaces and dashes are ignored; I and L read as 1, O as 0.
 * INVALID_ARGUMENT (naming no character of the code) when it is malformed or its checksum fails.
 */
export function decodeRecoveryCode(text: string): MasterKey {
  const cleaned = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (!cleaned.startsWith(CODE_PREFIX))
    throw new RepoError('INVALID_ARGUMENT', `a recovery code starts with ${CODE_PREFIX}-`);
  const body = cleaned.slice(CODE_PREFIX.length);
  const bytes: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of body) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) throw new RepoError('INVALID_ARGUMENT', 'the recovery code has a character that is not in its alphabet');
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes.push((acc >> (bits - 8)) & 0xff);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  const want = 64 + CODE_CHECK_BYTES;
  if (bytes.length !== want)
    throw new RepoError('INVALID_ARGUMENT', 'the recovery code has the wrong length: a character is missing or extra');
  const raw = Buffer.from(bytes);
  const key = raw.subarray(0, 64);
  if (!codeCheck(key).equals(raw.subarray(64)))
    throw new RepoError('INVALID_ARGUMENT', 'the recovery code does not match its checksum: a character is mistyped');
  return MasterKey.fromBytes(key);
}
