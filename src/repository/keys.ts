// Key files (spec §4): the master key sealed under a password-derived key, one file per password.
// Passwords and derived keys never leave this module except as the opened MasterKey.

import os from 'node:os';
import { FormatError, IntegrityError, RepoError } from '../core/errors.js';
import { deriveKey, validateScryptParams, type ScryptParams } from '../crypto/kdf.js';
import { randomBytes } from '../crypto/random.js';
import { XaesKey } from '../crypto/xaes.js';
import { AAD_KEY } from './aad.js';
import { MasterKey } from './master-key.js';

export interface KeyFile {
  version: number;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  created: string;
  hostname: string;
  username: string;
  data: string;
}

export async function createKeyFile(
  password: string,
  master: MasterKey,
  params: ScryptParams,
  now = new Date(),
): Promise<Buffer> {
  validateScryptParams(params);
  const salt = Buffer.from(randomBytes(32));
  const kek = new XaesKey(await deriveKey(password, salt, params));
  const file: KeyFile = {
    version: 1,
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    created: now.toISOString(),
    hostname: os.hostname(),
    username: safeUsername(),
    data: kek.seal(master.bytes(), AAD_KEY).toString('base64'),
  };
  return Buffer.from(JSON.stringify(file, null, 2) + '\n', 'utf8');
}

export function parseKeyFile(bytes: Buffer, name: string): KeyFile {
  const ctx = { file: `keys/${name}` };
  let k: KeyFile;
  try {
    k = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FormatError(`key file ${name} is not valid JSON`, ctx, { cause: err });
  }
  if (typeof k !== 'object' || k === null || k.version !== 1 || k.kdf !== 'scrypt') {
    throw new FormatError(`key file ${name} has an unknown version or KDF`, ctx);
  }
  if (typeof k.salt !== 'string' || typeof k.data !== 'string')
    throw new FormatError(`key file ${name} is incomplete`, ctx);
  try {
    validateScryptParams({ N: k.N, r: k.r, p: k.p });
  } catch (err) {
    throw new FormatError(`key file ${name} has unacceptable KDF parameters`, ctx, { cause: err });
  }
  return k;
}

/** The master key if the password opens this key file, otherwise undefined. */
export async function openKeyFile(k: KeyFile, password: string): Promise<MasterKey | undefined> {
  const kek = new XaesKey(await deriveKey(password, Buffer.from(k.salt, 'base64'), { N: k.N, r: k.r, p: k.p }));
  let plain: Buffer;
  try {
    plain = kek.open(Buffer.from(k.data, 'base64'), AAD_KEY);
  } catch (err) {
    if (err instanceof IntegrityError) return undefined;
    throw err;
  }
  if (plain.length !== 64) throw new RepoError('FORMAT', 'key file holds a master key of the wrong length');
  return MasterKey.fromBytes(plain);
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}
