// Key files (spec §4): the master key sealed under a password-derived key, one file per password.
// Passwords and derived keys never leave this module except as the opened MasterKey.

import os from 'node:os';
import { FormatError } from '../core/errors.js';
import type { LaneThreads, ScryptParams } from '../crypto/kdf.js';
import { AAD_KEY } from './aad.js';
import type { MasterKey } from './master-key.js';
import { checkSealedKey, openSealedKey, sealMasterKey, type SealedKey } from './sealed-key.js';

/** A key file's members (spec §4): the shared sealed-key members, with restic's hostname and username before `data`. */
export interface KeyFile extends SealedKey {
  version: number;
  hostname: string;
  username: string;
}

export async function createKeyFile(
  password: string,
  master: MasterKey,
  params: ScryptParams,
  now = new Date(),
): Promise<Buffer> {
  const { data, ...sealed } = await sealMasterKey(password, master, AAD_KEY, params, now);
  // The order of spec §4 (the storage id is the hash of these bytes): hostname and username come before data.
  const file: KeyFile = { version: 1, ...sealed, hostname: os.hostname(), username: safeUsername(), data };
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
  if (typeof k !== 'object' || k === null || k.version !== 1)
    throw new FormatError(`key file ${name} has an unknown version or KDF`, ctx);
  checkSealedKey(k, `key file ${name}`, ctx);
  return k;
}

/** The master key if the password opens this key file, otherwise undefined; `kdfThreads` as openSealedKey's. */
export function openKeyFile(k: KeyFile, password: string, kdfThreads?: LaneThreads): Promise<MasterKey | undefined> {
  return openSealedKey(k, password, AAD_KEY, 'key file', kdfThreads);
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}
