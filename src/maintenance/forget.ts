// `forget`: decides per group which snapshots a retention policy keeps, and removes the snapshot files of the rest.
// Only snapshot files are removed; the data they alone used is freed by prune.

import { RepoError } from '../core/errors.js';
import {
  applyPolicy,
  formatGroupKey,
  groupSnapshots,
  isEmptyPolicy,
  type GroupByField,
  type GroupKey,
  type KeepReason,
  type RetentionPolicy,
} from '../policy/index.js';
import { machineZone, type ZoneOffset } from '../policy/calendar.js';
import type { Repository } from '../repository/repository.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import { lockedFiles, type LockedFile } from './object-lock.js';

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

export interface PlanForgetOptions {
  /**
   * restic's --unsafe-allow-remove-all: a policy may remove every snapshot of a group, and an empty policy
   * removes every snapshot given. Without it an empty policy removes nothing, and a policy that would empty
   * a group is refused before anything is removed (restic >= 0.17: a --keep-tag with a typo matched
   * nothing and deleted everything).
   */
  allowRemoveAll?: boolean;
  /** The zone within-durations count calendar days in; default the machine's (TZ), as restic does. */
  zone?: ZoneOffset;
}

/** Plans a policy-based forget over `snapshots` (already filtered by host/tag/path). Pure. */
export function planForget(
  snapshots: StoredSnapshot[],
  policy: RetentionPolicy,
  groupBy: GroupByField[],
  now?: Date,
  opts: PlanForgetOptions = {},
): ForgetPlan {
  const emptyPolicy = isEmptyPolicy(policy);
  const groups = groupSnapshots(snapshots, groupBy).map((g) => {
    if (emptyPolicy) {
      return opts.allowRemoveAll
        ? { key: g.key, keep: [], remove: [...g.snapshots], reasons: [] }
        : { key: g.key, keep: [...g.snapshots], remove: [], reasons: [] };
    }
    const r = applyPolicy(g.snapshots, policy, {
      zone: opts.zone ?? machineZone,
      ...(now ? { now: now.toISOString() } : {}),
    });
    if (r.keep.length === 0 && !opts.allowRemoveAll) {
      throw new RepoError(
        'INVALID_ARGUMENT',
        `refusing to delete last snapshot of snapshot group "${formatGroupKey(g.key)}": the policy keeps none of its ${r.remove.length} snapshots (--unsafe-allow-remove-all allows it)`,
      );
    }
    return { key: g.key, keep: r.keep, remove: r.remove, reasons: r.reasons };
  });
  return { groups, explicit: [], emptyPolicy };
}

/**
 * Removes the snapshot files the plan names; returns their ids. The caller holds an exclusive lock. With Object Lock,
 * snapshot files still locked are left in place (a later forget removes them) and told to `onLocked` with their dates.
 */
export async function executeForget(
  repo: Pick<Repository, 'backend' | 'config'>,
  plan: ForgetPlan,
  onLocked?: (locked: LockedFile[]) => void,
): Promise<string[]> {
  const planned = [...new Set([...plan.explicit, ...plan.groups.flatMap((g) => g.remove)].map((s) => s.id))];
  const locked = await lockedFiles(
    repo,
    planned.map((name) => ({ type: 'snapshots', name })),
  );
  if (locked.size > 0) {
    onLocked?.(
      [...locked]
        .map(([name, r]) => ({ name, until: r.until.toISOString() }))
        .sort((a, b) => (a.name < b.name ? -1 : 1)),
    );
  }
  const ids = planned.filter((id) => !locked.has(id));
  const keptSomewhere = new Set(plan.groups.flatMap((g) => g.keep.map((s) => s.id)));
  for (const id of ids) {
    if (keptSomewhere.has(id) && !plan.explicit.some((s) => s.id === id)) {
      throw new RepoError('INVALID_ARGUMENT', `internal inconsistency: snapshot ${id} is both kept and removed`);
    }
    await repo.backend.remove({ type: 'snapshots', name: id });
  }
  return ids;
}
