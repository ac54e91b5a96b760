import { describe, expect, it } from 'vitest';
import { Lock, isStale, listLocks, removeLocks } from '../../src/repository/lock.js';
import { AAD_LOCK } from '../../src/repository/aad.js';
import os from 'node:os';
import { memoryRepo } from '../helpers/repo.js';

describe('locks', () => {
  it('shared locks coexist; an exclusive lock excludes both ways', async () => {
    const { repo } = await memoryRepo();
    const a = await Lock.acquire(repo, { exclusive: false });
    const b = await Lock.acquire(repo, { exclusive: false });
    const err = await Lock.acquire(repo, { exclusive: true }).catch((e) => e);
    expect(err.code).toBe('LOCKED');
    expect(err.message).toMatch(/held by .*@.* \(pid \d+\)/);
    await a.release();
    await b.release();
    const x = await Lock.acquire(repo, { exclusive: true });
    await expect(Lock.acquire(repo, { exclusive: false })).rejects.toMatchObject({ code: 'LOCKED' });
    await x.release();
    expect(await listLocks(repo)).toEqual([]);
  });

  it('two racing exclusive lockers: exactly one wins', async () => {
    const { repo } = await memoryRepo();
    const results = await Promise.allSettled([
      Lock.acquire(repo, { exclusive: true }),
      Lock.acquire(repo, { exclusive: true }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('waits with a retry budget until the holder releases', async () => {
    const { repo } = await memoryRepo();
    const x = await Lock.acquire(repo, { exclusive: true });
    setTimeout(() => void x.release(), 300);
    const y = await Lock.acquire(repo, { exclusive: false, retryMs: 10_000 });
    await y.release();
  });

  it('a lock is stale when old or when its pid is gone on this host; unlock removes only stale ones', async () => {
    const now = new Date();
    const fresh = {
      time: now.toISOString(),
      exclusive: true,
      hostname: os.hostname(),
      username: 'u',
      pid: process.pid,
    };
    expect(isStale(fresh, now)).toBe(false);
    expect(isStale({ ...fresh, time: new Date(now.getTime() - 31 * 60_000).toISOString() }, now)).toBe(true);
    expect(isStale({ ...fresh, pid: 2 ** 22 + 12345 }, now)).toBe(true);
    expect(isStale({ ...fresh, hostname: 'elsewhere', pid: 2 ** 22 + 12345 }, now)).toBe(false);

    const { repo } = await memoryRepo();
    const live = await Lock.acquire(repo, { exclusive: false });
    await repo.saveUnpacked('locks', Buffer.from(JSON.stringify({ ...fresh, pid: 2 ** 22 + 1 })), AAD_LOCK);
    expect(await removeLocks(repo)).toHaveLength(1);
    expect((await listLocks(repo)).map((l) => l.id)).toHaveLength(1);
    await Lock.acquire(repo, { exclusive: false }).then((l) => l.release());
    expect(await removeLocks(repo, { all: true })).toHaveLength(1);
    await live.release();
  });

  it('refresh replaces the lock file', async () => {
    const { repo } = await memoryRepo();
    const l = await Lock.acquire(repo, { exclusive: false });
    const before = (await listLocks(repo)).map((x) => x.id);
    await new Promise((r) => setTimeout(r, 5));
    await l.refresh();
    const after = (await listLocks(repo)).map((x) => x.id);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
    await l.release();
  });
});
