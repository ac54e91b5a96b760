// Which user of `repo serve` created which lock file, so that a backup-role user may delete only its own locks
// (a stolen backup credential must not clear another client's lock to let its own prune-like work through, nor
// hide which client is active). Kept in a JSON file next to the credentials, written crash-safely (temp file,
// fsync, rename, fsync of the directory, mode 0600) on every change, so it survives a server restart.

import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../core/atomic-file.js';
import { RepoError, errorMessage } from '../core/errors.js';

interface OwnersFile {
  version: 1;
  /** "<repository location>\n<lock id>" → user name. */
  locks: Record<string, string>;
}

const keyOf = (location: string, lock: string) => `${location}\n${lock}`;

export class LockOwners {
  private readonly locks = new Map<string, string>();

  private constructor(readonly file: string) {}

  /** Loads the file (a missing one is empty). FORMAT when it is not one of ours. */
  static load(file: string): LockOwners {
    const o = new LockOwners(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return o;
      throw new RepoError('INVALID_ARGUMENT', `cannot read the lock owners file ${file}: ${errorMessage(err)}`, {
        path: file,
      });
    }
    let parsed: OwnersFile;
    try {
      parsed = JSON.parse(text) as OwnersFile;
    } catch {
      throw new RepoError('FORMAT', `the lock owners file ${file} is not valid JSON`, { path: file });
    }
    if (parsed?.version !== 1 || typeof parsed.locks !== 'object' || parsed.locks === null)
      throw new RepoError('FORMAT', `the lock owners file ${file} has an unknown format`, { path: file });
    for (const [k, v] of Object.entries(parsed.locks)) if (typeof v === 'string') o.locks.set(k, v);
    return o;
  }

  owner(location: string, lock: string): string | undefined {
    return this.locks.get(keyOf(location, lock));
  }

  /** Records a new lock's creator (before the client is told it is stored, so a restart cannot forget it). */
  created(location: string, lock: string, user: string): void {
    this.locks.set(keyOf(location, lock), user);
    this.save();
  }

  /** Forgets a removed lock. */
  removed(location: string, lock: string): void {
    if (this.locks.delete(keyOf(location, lock))) this.save();
  }

  private save(): void {
    const body: OwnersFile = { version: 1, locks: Object.fromEntries([...this.locks].sort()) };
    writeFileAtomicSync(this.file, `${JSON.stringify(body, null, 1)}\n`, { mode: 0o600 });
  }
}
