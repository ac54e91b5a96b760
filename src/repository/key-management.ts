// Managing a repository's passwords (spec §4): listing, adding and removing key files, changing a password.
// Must never remove the key file the repository was opened with, nor the last one, and never write a
// key file that does not hold this repository's master key.

import { errorMessage, RepoError } from '../core/errors.js';
import { blake3 } from '../crypto/blake3.js';
import { calibrateScrypt, type ScryptParams } from '../crypto/kdf.js';
import { createKeyFile, parseKeyFile } from './keys.js';
import type { Repository } from './repository.js';
import { verifyStorageId } from './repository.js';

export type KeyRepo = Pick<Repository, 'backend' | 'key' | 'keyName' | 'listNames'>;

/** One key file as `key list` shows it. */
export interface KeyInfo {
  /** The key file's id (its storage id). */
  id: string;
  /** Whether the repository was opened with this key (its password). */
  current: boolean;
  userName: string;
  hostName: string;
  /** RFC 3339 creation time, as the key file records it. */
  created: string;
  /** KDF parameters. */
  kdf?: { name: string; N: number; r: number; p: number };
  /** Set when the key file cannot be read or parsed (it is still listed, so it can be removed). */
  error?: string;
}

export interface AddKeyOptions {
  /** scrypt parameters of the new key file; default calibrated to ~0.5 s on this machine. */
  kdf?: ScryptParams;
  now?: Date;
}

/** Every key file of the repository, sorted by creation time (unreadable ones last). */
export async function listKeys(repo: KeyRepo): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for (const id of await repo.listNames('keys')) {
    try {
      const bytes = await repo.backend.load({ type: 'keys', name: id });
      verifyStorageId(bytes, 'keys', id);
      const k = parseKeyFile(bytes, id);
      out.push({
        id,
        current: id === repo.keyName,
        userName: typeof k.username === 'string' ? k.username : '',
        hostName: typeof k.hostname === 'string' ? k.hostname : '',
        created: typeof k.created === 'string' ? k.created : '',
        kdf: { name: k.kdf, N: k.N, r: k.r, p: k.p },
      });
    } catch (err) {
      out.push({ id, current: id === repo.keyName, userName: '', hostName: '', created: '', error: errorMessage(err) });
    }
  }
  return out.sort(
    (a, b) =>
      Number(a.error !== undefined) - Number(b.error !== undefined) ||
      a.created.localeCompare(b.created) ||
      a.id.localeCompare(b.id),
  );
}

/** Stores a new key file that opens the repository with `password`; returns its id. */
export async function addKey(repo: KeyRepo, password: string, opts: AddKeyOptions = {}): Promise<string> {
  if (typeof password !== 'string' || password === '')
    throw new RepoError('NO_PASSWORD', 'an empty password is not allowed');
  const bytes = await createKeyFile(password, repo.key, opts.kdf ?? (await calibrateScrypt()), opts.now);
  const id = blake3(bytes).toString('hex');
  await repo.backend.save({ type: 'keys', name: id }, bytes);
  return id;
}

/**
 * Resolves a key id or a unique prefix of one. NOT_FOUND when no key file matches, AMBIGUOUS when several do,
 * INVALID_ARGUMENT for something that is not hex.
 */
export async function resolveKeyId(repo: Pick<Repository, 'listNames'>, ref: string): Promise<string> {
  if (!/^[0-9a-f]{1,64}$/.test(ref))
    throw new RepoError('INVALID_ARGUMENT', `invalid key id ${JSON.stringify(ref.slice(0, 80))}: expected hex`);
  const matches = (await repo.listNames('keys')).filter((n) => n.startsWith(ref));
  if (matches.length === 0) throw new RepoError('NOT_FOUND', `no key with id ${ref}`, { file: `keys/${ref}` });
  if (matches.length > 1) throw new RepoError('AMBIGUOUS', `key id prefix ${ref} matches ${matches.length} keys`);
  return matches[0];
}

/**
 * Removes a key file (id or unique prefix); returns the full id. Refuses the key in use (its password opened
 * this repository handle) and the last key, with INVALID_ARGUMENT. Callers should hold an exclusive lock.
 */
export async function removeKey(repo: KeyRepo, ref: string): Promise<string> {
  const id = await resolveKeyId(repo, ref);
  if (id === repo.keyName) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `key ${id.slice(0, 8)} is the key in use: it cannot be removed (open the repository with another password to remove it, or use "key passwd")`,
      { file: `keys/${id}` },
    );
  }
  const all = await repo.listNames('keys');
  if (all.length <= 1) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `key ${id.slice(0, 8)} is the repository's last key: removing it would lock everyone out`,
      { file: `keys/${id}` },
    );
  }
  await repo.backend.remove({ type: 'keys', name: id });
  return id;
}

/**
 * Changes the password of the key in use: stores a key file for `newPassword`, then removes the current one
 * (so an interruption leaves both passwords working, never none). Callers should hold an exclusive lock.
 */
export async function changePassword(
  repo: KeyRepo,
  newPassword: string,
  opts: AddKeyOptions = {},
): Promise<{ added: string; removed: string }> {
  const old = repo.keyName;
  const added = await addKey(repo, newPassword, opts);
  if (added !== old) await repo.backend.remove({ type: 'keys', name: old });
  return { added, removed: old };
}
