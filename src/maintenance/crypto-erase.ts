// `destroy --crypto-erase` (spec §17.3): every key file and then the config go first, and only once their
// removal is confirmed by listing does the rest follow. From that instant nothing stored can be decrypted, even
// with an old password, so an interruption anywhere later leaves an unreadable repository that a rerun finishes.
// Works through the Backend interface only (every backend); a local directory is also emptied of its layout.

import fs from 'node:fs/promises';
import path from 'node:path';
import { type Backend, type FileType, isNotFound, LocalBackend, unwrap } from '../backend/index.js';
import { crashPoint } from '../core/crash-point.js';
import { RepoError } from '../core/errors.js';

/** After the keys and config: whatever readers would trip over first goes first; locks last. */
const REST_ORDER: readonly FileType[] = ['snapshots', 'index', 'data', 'audit', 'locks'];

export interface EraseResult {
  keysRemoved: number;
  configRemoved: boolean;
  filesRemoved: number;
  /** Local only: entries left in the directory that are not repository files (never removed). */
  foreign: string[];
}

async function names(backend: Backend, type: FileType): Promise<string[]> {
  const out: string[] = [];
  for await (const f of backend.list(type)) out.push(f.name);
  return out;
}

async function removeQuietly(backend: Backend, type: FileType, name: string): Promise<boolean> {
  try {
    await backend.remove({ type, name });
    return true;
  } catch (err) {
    if (isNotFound(err)) return false; // removed meanwhile (a rerun, a lock released): the goal holds
    throw err;
  }
}

/** Whether anything that could decrypt the repository is still stored: key files or the config. */
export async function hasKeyMaterial(backend: Backend): Promise<{ keys: number; config: boolean }> {
  return {
    keys: (await names(backend, 'keys')).length,
    config: await backend.exists({ type: 'config', name: 'config' }),
  };
}

/**
 * Removes every key file, then the config, then lists again to confirm that none is left (a concurrent
 * `key add` would otherwise survive). Throws BACKEND if one is still there.
 */
export async function eraseKeyMaterial(backend: Backend): Promise<{ keysRemoved: number; configRemoved: boolean }> {
  let keysRemoved = 0;
  for (let round = 0; round < 3; round++) {
    const keys = await names(backend, 'keys');
    if (keys.length === 0) break;
    for (const k of keys) if (await removeQuietly(backend, 'keys', k)) keysRemoved++;
  }
  crashPoint('erase-keys-removed');
  const configRemoved = await removeQuietly(backend, 'config', 'config');
  const left = await hasKeyMaterial(backend);
  if (left.keys > 0 || left.config)
    throw new RepoError(
      'BACKEND',
      `${left.keys} key file(s)${left.config ? ' and the config' : ''} are still stored at ${backend.location} after their removal: the storage refused or something wrote them again`,
    );
  return { keysRemoved, configRemoved };
}

/** Removes every other repository file, then (local directory) temporary files and the empty layout folders. */
export async function eraseRest(
  backend: Backend,
  onProgress: (type: FileType, removed: number) => void = () => undefined,
): Promise<{ filesRemoved: number; foreign: string[] }> {
  let filesRemoved = 0;
  for (const type of REST_ORDER) {
    let n = 0;
    for (const name of await names(backend, type)) if (await removeQuietly(backend, type, name)) n++;
    filesRemoved += n;
    onProgress(type, n);
  }
  const local = unwrap(backend, LocalBackend);
  return { filesRemoved, foreign: local === undefined ? [] : await emptyLocalLayout(local) };
}

/**
 * Removes temporary files and empty folders below a local repository directory (the directory itself stays,
 * empty). Only rmdir of empty folders and unlink of `.tmp-*` files: anything else is someone else's and is
 * listed, not removed.
 */
async function emptyLocalLayout(local: LocalBackend): Promise<string[]> {
  await local.cleanupTemporaryFiles(0);
  const foreign: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        await walk(p);
        await fs.rmdir(p).catch(() => undefined); // not empty: holds a foreign file, listed below it
      } else if (e.name.startsWith('.tmp-')) await fs.rm(p, { force: true });
      else foreign.push(path.relative(local.dir, p));
    }
  };
  await walk(local.dir);
  return foreign;
}
