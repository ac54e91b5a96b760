// Finding the key file a password opens (spec §4), degrading instead of blocking on damage.
// Of a key file only the sealed master key (`data`) is authenticated: hostname, username, created, version and
// kdf are labels, and N, r, p and salt are KDF inputs whose damage shows as a failed authentication. So a key
// file whose bytes no longer match its name is still tried, its members read as leniently as possible (a
// damaged scrypt parameter or base64 character of the sealed key is guessed, and authentication tells a right
// guess); if its master key authenticates, the repository opens and the caller is told which file to replace.

import type { Backend } from '../backend/backend.js';
import { IntegrityError, RepoError } from '../core/errors.js';
import { blake3 } from '../crypto/blake3.js';
import { deriveKey, validateScryptParams, type LaneThreads, type ScryptParams } from '../crypto/kdf.js';
import { XaesKey } from '../crypto/xaes.js';
import { AAD_KEY } from './aad.js';
import { openKeyFile, parseKeyFile } from './keys.js';
import { MasterKey } from './master-key.js';

export interface UnlockedKey {
  key: MasterKey;
  keyName: string;
  /** Set when the key file that opened is damaged outside its sealed master key: a warning for the user. */
  damage?: string;
}

/** The advice for a damaged key file whose password still works. */
export function keyRepairHint(name: string): string {
  return `replace it: "repo key add" (or "repo key passwd") writes a fresh key file, then "repo key remove ${name.slice(0, 12)}"`;
}

/** Opens the first key file `password` fits; intact files are tried before damaged ones. */
export async function unlockWithPassword(
  backend: Backend,
  password: string,
  kdfThreads?: LaneThreads,
): Promise<UnlockedKey> {
  const names: string[] = [];
  for await (const f of backend.list('keys')) names.push(f.name);
  if (names.length === 0)
    throw new RepoError(
      'FORMAT',
      `repository at ${backend.location} has no key files (a recovery file or code restores access: repo key import)`,
      { file: 'keys/' },
    );
  const damaged: { name: string; bytes?: Buffer; err: unknown }[] = [];
  for (const name of names.sort()) {
    let bytes: Buffer | undefined;
    try {
      bytes = await backend.load({ type: 'keys', name });
      if (blake3(bytes).toString('hex') !== name) {
        damaged.push({
          name,
          bytes,
          err: new IntegrityError(`key file keys/${name} is damaged: its content does not match its name`, {
            file: `keys/${name}`,
          }),
        });
        continue;
      }
      const key = await openKeyFile(parseKeyFile(bytes, name), password, kdfThreads);
      if (key) return { key, keyName: name };
    } catch (err) {
      damaged.push({ name, err }); // a key file that cannot be read must not hide a good one
    }
  }
  // Only now, with no intact key file left to try: the damaged ones, read leniently.
  for (const d of damaged) {
    if (d.bytes === undefined) continue;
    const salvage = salvageKeyFile(d.bytes);
    const key = salvage === undefined ? undefined : await openSalvaged(salvage, password).catch(() => undefined);
    if (key) {
      return {
        key,
        keyName: d.name,
        damage: `key file keys/${d.name} is damaged (its content does not match its name), but its sealed master key authenticates with this password, so the repository opened; ${keyRepairHint(d.name)}`,
      };
    }
  }
  // A lone intact file that fails for another reason (unknown version, I/O): its own error says it best.
  if (damaged.length === 1 && names.length === 1 && damaged[0].bytes === undefined) throw damaged[0].err;
  if (damaged.length > 0) {
    // The damaged file may be the very one this password opens: say so rather than "wrong password".
    const files = damaged.map((d) => `keys/${d.name}`);
    throw new IntegrityError(
      `no key file opens with this password, and ${files.length === 1 ? `key file ${files[0]} is` : `key files ${files.join(', ')} are`} damaged where the password check needs it (salt, KDF parameters or sealed key), so this password cannot be checked against it; a key file of another password, or an intact copy of the damaged one, opens the repository`,
      { file: files[0] },
      { cause: damaged[0].err },
    );
  }
  throw new RepoError('WRONG_PASSWORD', 'wrong password: no key file of this repository opens with it');
}

/** What a damaged key file still tells: salt, sealed key, and the scrypt parameters it may have been made with. */
export interface SalvagedKey {
  salt: Buffer;
  /** The base64 text of the sealed master key, as found. */
  data: string;
  /** The parameters as read first (when they are valid), then those one changed digit away. */
  params: ScryptParams[];
}

// Each candidate costs one scrypt derivation (about 0.5 s with calibrated parameters).
const MAX_PARAM_CANDIDATES = 24;
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * The members a damaged key file still yields: from its JSON if it still parses, otherwise member by member
 * from the text (a flipped byte may have broken a quote or made the text invalid UTF-8). Labels and version
 * are not needed. A damaged scrypt parameter is guessed among the values one digit away that the spec allows
 * (a wrong guess only fails authentication); a wrong salt cannot be guessed in reasonable time.
 */
export function salvageKeyFile(bytes: Buffer): SalvagedKey | undefined {
  const text = bytes.toString('latin1'); // every member the KDF needs is ASCII; any other byte stays one char
  let json: Record<string, unknown> = {};
  try {
    const v = JSON.parse(bytes.toString('utf8'));
    if (typeof v === 'object' && v !== null) json = v;
  } catch {
    // read member by member below
  }
  const str = (m: string): string | undefined =>
    typeof json[m] === 'string' ? (json[m] as string) : new RegExp(`"${m}"\\s*:\\s*"([^"]*)"`).exec(text)?.[1];
  const raw = (m: string): string | undefined =>
    typeof json[m] === 'number' ? String(json[m]) : new RegExp(`"${m}"\\s*:\\s*([^,}\\s]{1,8})`).exec(text)?.[1];
  const salt = str('salt');
  const data = str('data');
  const texts = { N: raw('N'), r: raw('r'), p: raw('p') };
  if (salt === undefined || data === undefined || !/^[A-Za-z0-9+/=]+$/.test(salt)) return undefined;
  const valid = (c: { N: number; r: number; p: number }): boolean => {
    try {
      validateScryptParams(c);
      return true;
    } catch {
      return false;
    }
  };
  const asRead = { N: Number(texts.N), r: Number(texts.r), p: Number(texts.p) };
  const params: ScryptParams[] = valid(asRead) ? [asRead] : [];
  const seen = new Set(params.map((c) => `${c.N}/${c.r}/${c.p}`));
  for (const field of ['N', 'r', 'p'] as const) {
    const t = texts[field];
    if (t === undefined) continue;
    for (let i = 0; i < t.length; i++) {
      for (const digit of '0123456789') {
        const c = { ...asRead, [field]: Number(t.slice(0, i) + digit + t.slice(i + 1)) };
        const k = `${c.N}/${c.r}/${c.p}`;
        if (seen.has(k) || !valid(c)) continue;
        seen.add(k);
        params.push(c);
      }
    }
  }
  return { salt: Buffer.from(salt, 'base64'), data, params: params.slice(0, MAX_PARAM_CANDIDATES) };
}

/**
 * Tries the candidates. With the parameters as read, a sealed key damaged in one base64 character is also
 * tried with every other character there: authentication (a 128-bit tag) accepts only the true key, so this
 * corrects the damage without any risk of a wrong key. One damaged member at a time is assumed.
 */
async function openSalvaged(s: SalvagedKey, password: string): Promise<MasterKey | undefined> {
  for (const [i, params] of s.params.entries()) {
    const kek = new XaesKey(await deriveKey(password, s.salt, params));
    const key = openSealedKey(kek, s.data);
    if (key) return key;
    if (i > 0) continue; // a damaged parameter and a damaged sealed key at once are not guessed
    for (let at = 0; at < s.data.length; at++) {
      for (const ch of BASE64) {
        if (ch === s.data[at]) continue;
        const k = openSealedKey(kek, s.data.slice(0, at) + ch + s.data.slice(at + 1));
        if (k) return k;
      }
    }
  }
  return undefined;
}

function openSealedKey(kek: XaesKey, data: string): MasterKey | undefined {
  const sealed = Buffer.from(data, 'base64');
  if (sealed.length !== 64 + 40) return undefined;
  try {
    return MasterKey.fromBytes(kek.open(sealed, AAD_KEY));
  } catch {
    return undefined;
  }
}
