// `forget`: decides per group which snapshots a retention policy keeps, and removes the snapshot files of the rest.
// Only snapshot files are removed; the data they alone used is freed by prune.

import { RepoError } from '../core/errors.js';
import { applyPolicy, groupSnapshots, isEmptyPolicy, type GroupByField, type GroupKey, type KeepReason, type RetentionPolicy } from '../policy/index.js';
import type { Repository } from '../repository/repository.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';

export interface ForgetGroup {
  key: GroupKey;
  keep: StoredSnapshot[];
  remove: StoredSnapshot[];
  reasons: KeepReason[];
}

export interface ForgetPlan {
  groups: ForgetGroup[];
  /** Explicitly named snapshots (forget ID...), removed regardless of policy. */
  explicit: StoredSnapshot[];
  emptyPolicy: boolean;
}

/** Plans a policy-based forget over `snapshots` (already filtered by host/tag/path). Pure. */
export function planForget(snapshots: StoredSnapshot[], policy: RetentionPolicy, groupBy: GroupByField[], now?: Date): ForgetPlan {
  const emptyPolicy = isEmptyPolicy(policy);
  const groups = groupSnapshots(snapshots, groupBy).map((g) => {
    if (emptyPolicy) return { key: g.key, keep: [...g.snapshots], remove: [], reasons: [] };
    const r = applyPolicy(g.snapshots, policy, now ? { now: now.toISOString() } : {});
    return { key: g.key, keep: r.keep, remove: r.remove, reasons: r.reasons };
  });
  return { groups, explicit: [], emptyPolicy };
}

/** Removes the snapshot files the plan names; returns their ids. The caller holds an exclusive lock. */
export async function executeForget(repo: Pick<Repository, 'backend'>, plan: ForgetPlan): Promise<string[]> {
  const ids = [...new Set([...plan.explicit, ...plan.groups.flatMap((g) => g.remove)].map((s) => s.id))];
  const keptSomewhere = new Set(plan.groups.flatMap((g) => g.keep.map((s) => s.id)));
  for (const id of ids) {
    if (keptSomewhere.has(id) && !plan.explicit.some((s) => s.id === id)) {
      throw new RepoError('INVALID_ARGUMENT', `internal inconsistency: snapshot ${id} is both kept and removed`);
    }
    await repo.backend.remove({ type: 'snapshots', name: id });
  }
  return ids;
}
