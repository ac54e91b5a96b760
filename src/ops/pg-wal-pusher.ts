// The one long-running process of asynchronous WAL archiving: it opens the repository once (one key
// derivation, one index load) and archives every requested WAL file and every file PostgreSQL has marked
// ready in the same pg_wal directories, oldest first, acknowledging each in the spool only after its
// snapshot is stored. It never acknowledges a file it did not find stored with the same bytes.

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, loadSnapshot, sortByTime, type StoredSnapshot } from '../snapshot/snapshot.js';
import type { ProfileConfig } from './config.js';
import { pushWal, walSnapshots } from './pg-wal.js';
import type { WalSpool, WalWork } from './pg-wal-spool.js';
import { withLock } from './repos.js';

export interface PusherOptions {
  /** Exit after this long with nothing to do (the next archive_command starts a new pusher). */
  idleMs: number;
  /** How often the spool and archive_status are looked at while idle. */
  pollMs: number;
  /** A read-ahead file that failed is tried again after this long (a requested one at once). */
  retryMs: number;
  signal?: AbortSignal;
  log: (message: string) => void;
  /** A ready file has waited longer than this (or a requested one failed): archiving falls behind. */
  behindMs: number;
  /** Told when archiving falls behind (the healthcheck's failure ping); the caller limits how often it pings. */
  onBehind?: (message: string) => void;
}

export interface PusherStats {
  stored: number;
  present: number;
  failed: number;
}

/** History files first (PostgreSQL needs them to follow a timeline), then by name: oldest segment first. */
function order(a: WalWork, b: WalWork): number {
  const ha = a.name.endsWith('.history') ? 0 : 1;
  const hb = b.name.endsWith('.history') ? 0 : 1;
  return ha - hb || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Runs while there is work, holding the spool's pusher lock (the caller took it). Returns when idle for
 * `idleMs` after giving the lock up — and only when no request arrived in between, so a request is
 * never left without a pusher.
 */
export async function runPusher(
  repo: Repository,
  profile: ProfileConfig,
  spool: WalSpool,
  opts: PusherOptions,
): Promise<PusherStats> {
  const stats: PusherStats = { stored: 0, present: 0, failed: 0 };
  const snapshots = new SnapshotCache();
  const walDirs = new Set<string>();
  const failedAt = new Map<string, number>();
  let idleSince = Date.now();
  for (;;) {
    if (opts.signal?.aborted) break;
    const work = await pending(spool, walDirs, failedAt, opts.retryMs);
    if (work.length === 0) {
      if (Date.now() - idleSince < opts.idleMs) {
        await sleep(opts.pollMs);
        continue;
      }
      await spool.dropOldAcks(3600_000);
      await spool.unlockPusher();
      // A request written after the last look saw our pid file: it is ours to serve, unless another pusher took over.
      if ((await spool.requests()).length === 0 || !(await spool.lockPusher())) break;
      continue;
    }
    const oldest = await oldestWaiting(work);
    if (oldest !== undefined && Date.now() - oldest.since > opts.behindMs)
      opts.onBehind?.(
        `WAL archiving falls behind: ${oldest.name} has waited ${Math.round((Date.now() - oldest.since) / 1000)} s, ${work.length} file(s) waiting`,
      );
    await withLock(repo, false, { retryMs: profile.retryLockMs, signal: opts.signal }, async () => {
      const known = walSnapshots(await snapshots.list(repo), profile);
      for (const w of work) {
        if (opts.signal?.aborted) return;
        const requested = w.requested;
        try {
          const res = await pushWal(repo, profile, w.path, opts.signal, known);
          await spool.writeAck({
            name: w.name,
            sha256: res.sha256,
            size: res.bytes,
            snapshot: res.snapshotId,
            outcome: res.outcome,
            identity: res.identity,
          });
          stats[res.outcome]++;
          failedAt.delete(w.name);
          if (requested) {
            await spool.clearFailure(w.name);
            await spool.dropRequest(w.name);
          }
          opts.log(`${w.name}: ${res.outcome} (snapshot ${res.snapshotId.slice(0, 8)})`);
        } catch (err) {
          stats.failed++;
          failedAt.set(w.name, Date.now());
          opts.log(`${w.name}: ${errorMessage(err)}`);
          if (requested) {
            await spool.writeFailure(w.name, err);
            await spool.dropRequest(w.name);
          }
          opts.onBehind?.(`WAL archiving failed for ${w.name}: ${errorMessage(err)}`);
        }
      }
    }).catch(async (err: unknown) => {
      // The repository could not be opened for writing (lock, backend): every waiting request hears why.
      opts.log(`batch failed: ${errorMessage(err)}`);
      opts.onBehind?.(`WAL archiving failed: ${errorMessage(err)}`);
      for (const w of work.filter((x) => x.requested)) {
        await spool.writeFailure(w.name, err);
        await spool.dropRequest(w.name);
      }
      await sleep(opts.pollMs);
    });
    idleSince = Date.now();
  }
  return stats;
}

/**
 * The repository's snapshots for each batch. Snapshot files never change once written (their name is their
 * hash), so a long-running pusher lists the names and loads only the new ones: a batch no longer reads every
 * snapshot file of an archive that grows by one per segment. Other writers' snapshots and removals show up
 * through the listing; if a new file cannot be loaded, everything is listed the ordinary way.
 */
class SnapshotCache {
  private byName = new Map<string, StoredSnapshot>();

  async list(repo: Repository): Promise<StoredSnapshot[]> {
    const names = await repo.listNames('snapshots');
    const live = new Set(names);
    for (const n of [...this.byName.keys()]) if (!live.has(n)) this.byName.delete(n);
    try {
      for (const n of names) if (!this.byName.has(n)) this.byName.set(n, await loadSnapshot(repo, n));
    } catch {
      this.byName = new Map((await listSnapshots(repo)).map((sn) => [sn.id, sn]));
    }
    return sortByTime([...this.byName.values()]);
  }
}

/** The file that has waited longest, by its last modification (PostgreSQL finished it then). */
async function oldestWaiting(work: WalWork[]): Promise<{ name: string; since: number } | undefined> {
  let oldest: { name: string; since: number } | undefined;
  for (const w of work) {
    const st = await stat(w.path).catch(() => undefined);
    if (st !== undefined && (oldest === undefined || st.mtimeMs < oldest.since))
      oldest = { name: w.name, since: st.mtimeMs };
  }
  return oldest;
}

/** Requests, then ready files of the pg_wal directories requests came from, without those already acknowledged. */
async function pending(
  spool: WalSpool,
  walDirs: Set<string>,
  failedAt: Map<string, number>,
  retryMs: number,
): Promise<(WalWork & { requested: boolean })[]> {
  const byName = new Map<string, WalWork & { requested: boolean }>();
  for (const r of await spool.requests()) {
    byName.set(r.name, { ...r, requested: true });
    walDirs.add(path.dirname(r.path));
  }
  for (const dir of walDirs) {
    for (const r of await spool.ready(dir)) {
      if (byName.has(r.name)) continue;
      const failed = failedAt.get(r.name);
      if (failed !== undefined && Date.now() - failed < retryMs) continue;
      if ((await spool.readAck(r.name)) !== undefined) continue;
      byName.set(r.name, { ...r, requested: false });
    }
  }
  return [...byName.values()].sort(order);
}
