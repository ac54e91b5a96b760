// Object Lock in maintenance: which files are still locked (forget and prune plan around them), keeping the packs a
// new snapshot needs locked as long as the snapshot, and finding packs whose lock ends before a snapshot's. Reaches
// the storage only through Backend.retention(); does nothing for a repository without a lock policy.

import type { Handle } from '../backend/backend.js';
import { type ObjectRetention, type Retention, retainUntil } from '../backend/object-lock.js';
import { forEachLimit } from '../core/concurrency.js';
import { RepoError, errorMessage } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { objectLockOf } from '../repository/object-lock-config.js';
import { listSnapshots, type StoredSnapshot } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';
import { walkTree } from '../tree/walk.js';

/** Retention requests in flight at once (each is one HEAD or PUT). */
const LOCK_REQUESTS = 8;

/** A file that cannot be removed yet, and until when. */
export interface LockedFile {
  name: string;
  until: string;
}

/** The storage's Object Lock if the repository has a lock policy, else undefined. */
export function repositoryLock(repo: Pick<Repository, 'backend' | 'config'>): ObjectRetention | undefined {
  if (objectLockOf(repo.config) === undefined) return undefined;
  return repo.backend.retention?.();
}

/** The files among `handles` that are still locked, with their retain-until dates (empty without a lock policy). */
export async function lockedFiles(
  repo: Pick<Repository, 'backend' | 'config'>,
  handles: readonly Handle[],
): Promise<Map<string, Retention>> {
  const lock = repositoryLock(repo);
  const out = new Map<string, Retention>();
  if (lock === undefined) return out;
  await forEachLimit(handles, LOCK_REQUESTS, async (h) => {
    const r = await lock.retention(h);
    if (r !== undefined) out.set(h.name, r);
  });
  return out;
}

/** The pack of every blob a snapshot needs (the copy the index names first, which prune keeps). */
async function packsOf(repo: Repository, snapshots: readonly StoredSnapshot[]): Promise<Map<string, string[]>> {
  const needers = new Map<string, string[]>(); // pack → snapshot ids
  for (const sn of snapshots) {
    const packs = new Set<string>();
    const add = (type: 'data' | 'tree', hex: string) => {
      const e = repo.index.lookup(type, idFromHex(hex));
      if (e !== undefined) packs.add(e.pack);
    };
    add('tree', sn.tree);
    await walkTree(
      (id) => loadTree(repo, id),
      sn.tree,
      {
        node: (n) => {
          for (const c of n.content ?? []) add('data', c);
          if (n.subtree) add('tree', n.subtree);
        },
        treeError: (treeId, _path, err) => {
          throw new RepoError(
            'INTEGRITY',
            `cannot read tree ${treeId} of snapshot ${sn.id.slice(0, 8)}: ${errorMessage(err)}`,
            {
              snapshot: sn.id,
              tree: treeId,
            },
          );
        },
      },
      { uniqueTrees: true },
    );
    for (const p of packs) needers.set(p, [...(needers.get(p) ?? []), sn.id]);
  }
  return needers;
}

export interface ExtendResult {
  /** The snapshot's own retain-until date (what its packs were extended to); undefined if it is not locked. */
  until?: string;
  packs: number;
  extended: number;
}

/**
 * Makes every pack the snapshot needs stay locked at least as long as the snapshot file: a backup that deduplicates
 * against an old pack would otherwise leave its data deletable when the old pack's lock ends. One HEAD per pack,
 * and one PutObjectRetention per pack whose lock was shorter.
 */
export async function extendSnapshotLocks(repo: Repository, sn: StoredSnapshot): Promise<ExtendResult> {
  const lock = repositoryLock(repo);
  if (lock === undefined) return { packs: 0, extended: 0 };
  const own = await lock.retention({ type: 'snapshots', name: sn.id });
  const packs = [...(await packsOf(repo, [sn])).keys()];
  if (own === undefined) return { packs: packs.length, extended: 0 };
  let extended = 0;
  await forEachLimit(packs, LOCK_REQUESTS, async (pack) => {
    if (await lock.extendRetention({ type: 'data', name: pack }, own.until)) extended++;
  });
  return { until: own.until.toISOString(), packs: packs.length, extended };
}

/** A stored object whose lock ends before that of a snapshot that needs it. */
export interface ShortLock {
  file: string;
  /** Its retain-until date, or null if it carries no lock at all. */
  until: string | null;
  /** The latest retain-until date among the snapshots that need it. */
  neededUntil: string;
  snapshots: string[];
}

/**
 * For `check`: every snapshot file should be locked, and every pack a snapshot needs should stay locked at least as
 * long as that snapshot. Lists what falls short (empty without a lock policy). One HEAD per snapshot and per pack.
 */
export async function findShortLocks(repo: Repository): Promise<ShortLock[]> {
  const policy = objectLockOf(repo.config);
  if (policy === undefined || repositoryLock(repo) === undefined) return [];
  const snapshots = await listSnapshots(repo);
  const snapUntil = await lockedFiles(
    repo,
    snapshots.map((s) => ({ type: 'snapshots', name: s.id })),
  );
  const out: ShortLock[] = [];
  for (const sn of snapshots) {
    if (!snapUntil.has(sn.id)) {
      const neededUntil = retainUntil(new Date(sn.time), policy.days).toISOString();
      out.push({ file: `snapshots/${sn.id}`, until: null, neededUntil, snapshots: [sn.id] });
    }
  }
  const needers = await packsOf(repo, snapshots);
  const packUntil = await lockedFiles(
    repo,
    [...needers.keys()].map((p) => ({ type: 'data', name: p })),
  );
  for (const [pack, ids] of needers) {
    let needed: Date | undefined;
    for (const id of ids) {
      const u = snapUntil.get(id)?.until;
      if (u !== undefined && (needed === undefined || u > needed)) needed = u;
    }
    if (needed === undefined) continue;
    const have = packUntil.get(pack)?.until;
    if (have === undefined || have < needed) {
      out.push({
        file: `data/${pack.slice(0, 2)}/${pack}`,
        until: have?.toISOString() ?? null,
        neededUntil: needed.toISOString(),
        snapshots: ids.filter((id) => (snapUntil.get(id)?.until ?? 0) > (have ?? 0)),
      });
    }
  }
  return out;
}
