// Repository locks (locks/<id>): shared for readers and writers that only add, exclusive for operations that remove.
// A lock is refreshed while held and is stale when old or when its process is gone on the same host.

import os from 'node:os';
import { RepoError } from '../core/errors.js';
import { AAD_LOCK } from './aad.js';
import type { Repository } from './repository.js';

export const STALE_AFTER_MS = 30 * 60 * 1000;
export const REFRESH_EVERY_MS = 5 * 60 * 1000;

export interface LockInfo {
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  uid?: number;
  gid?: number;
}

export interface StoredLock extends LockInfo {
  id: string;
}

export type LockRepo = Pick<Repository, 'saveUnpacked' | 'loadUnpacked' | 'listNames' | 'backend'>;

export interface LockOptions {
  exclusive: boolean;
  /** Keep trying this long before giving up with LOCKED. */
  retryMs?: number;
  now?: () => Date;
  signal?: AbortSignal;
}

/** Whether a lock no longer protects anything: too old, or its process is gone on this very host. */
export function isStale(l: LockInfo, now: Date): boolean {
  const t = Date.parse(l.time);
  if (Number.isNaN(t) || now.getTime() - t > STALE_AFTER_MS) return true;
  if (l.hostname === os.hostname() && !processAlive(l.pid)) return true;
  return false;
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** All lock files; unreadable ones are returned as undefined info so callers can decide. */
export async function listLocks(repo: LockRepo): Promise<{ id: string; lock?: LockInfo }[]> {
  const out: { id: string; lock?: LockInfo }[] = [];
  for (const id of await repo.listNames('locks')) {
    try {
      out.push({ id, lock: JSON.parse((await repo.loadUnpacked('locks', id, AAD_LOCK)).toString('utf8')) });
    } catch {
      out.push({ id }); // vanished while listing (released), or damaged: neither blocks anyone
    }
  }
  return out;
}

export class Lock {
  private timer?: NodeJS.Timeout;
  private released = false;

  private constructor(
    private readonly repo: LockRepo,
    private id: string,
    readonly info: LockInfo,
    private readonly now: () => Date,
  ) {}

  static async acquire(repo: LockRepo, opts: LockOptions): Promise<Lock> {
    const now = opts.now ?? (() => new Date());
    const deadline = Date.now() + (opts.retryMs ?? 0);
    for (;;) {
      if (opts.signal?.aborted) throw new RepoError('INTERRUPTED', 'interrupted while waiting for a lock');
      const conflict = await findConflict(repo, opts.exclusive, now(), undefined);
      if (!conflict) {
        const info = lockInfo(opts.exclusive, now());
        const id = await repo.saveUnpacked('locks', Buffer.from(JSON.stringify(info)), AAD_LOCK);
        // Two processes may have checked at once: look again now that ours is visible, and back off on a conflict.
        const late = await findConflict(repo, opts.exclusive, now(), id);
        if (!late) {
          const lock = new Lock(repo, id, info, now);
          lock.startRefresh();
          return lock;
        }
        await repo.backend.remove({ type: 'locks', name: id }).catch(() => undefined);
        if (Date.now() >= deadline) throw lockedError(late);
      } else if (Date.now() >= deadline) {
        throw lockedError(conflict);
      }
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1500));
    }
  }

  /** Replaces the lock file with a fresh one so others do not consider it stale. */
  async refresh(): Promise<void> {
    if (this.released) return;
    this.info.time = this.now().toISOString();
    const old = this.id;
    this.id = await this.repo.saveUnpacked('locks', Buffer.from(JSON.stringify(this.info)), AAD_LOCK);
    await this.repo.backend.remove({ type: 'locks', name: old }).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    await this.repo.backend.remove({ type: 'locks', name: this.id }).catch(() => undefined);
  }

  private startRefresh(): void {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_EVERY_MS);
    this.timer.unref();
  }
}

async function findConflict(
  repo: LockRepo,
  exclusive: boolean,
  now: Date,
  own: string | undefined,
): Promise<StoredLock | undefined> {
  for (const { id, lock } of await listLocks(repo)) {
    if (id === own || !lock || isStale(lock, now)) continue;
    if (exclusive || lock.exclusive) {
      // Between two fresh conflicting locks, the one with the smaller id wins, so exactly one of two racers backs off.
      if (own !== undefined && !lock.exclusive === !exclusive && id > own) continue;
      return { ...lock, id };
    }
  }
  return undefined;
}

function lockInfo(exclusive: boolean, now: Date): LockInfo {
  let username = '';
  try {
    username = os.userInfo().username;
  } catch {
    // no passwd entry (containers): the lock is still valid without a name
  }
  return {
    time: now.toISOString(),
    exclusive,
    hostname: os.hostname(),
    username,
    pid: process.pid,
    uid: process.getuid?.(),
    gid: process.getgid?.(),
  };
}

function lockedError(l: StoredLock): RepoError {
  const kind = l.exclusive ? 'an exclusive' : 'a';
  return new RepoError(
    'LOCKED',
    `repository is locked: ${kind} lock ${l.id.slice(0, 8)} is held by ${l.username || 'unknown user'}@${l.hostname} (pid ${l.pid}) since ${l.time}; wait, use --retry-lock, or run "repo unlock" if that process is gone`,
    { file: `locks/${l.id}` },
  );
}

/** Removes stale locks, or every lock with `all` (dangerous: only when no other process uses the repository). */
export async function removeLocks(repo: LockRepo, opts: { all?: boolean; now?: Date } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const { id, lock } of await listLocks(repo)) {
    if (opts.all || !lock || isStale(lock, opts.now ?? new Date())) {
      await repo.backend.remove({ type: 'locks', name: id }).catch(() => undefined);
      removed.push(id);
    }
  }
  return removed;
}
