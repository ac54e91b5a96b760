// Changing the tags of snapshots (`repo tag`): each changed snapshot is rewritten under a new id with the same time and tree.
// Must never remove an old snapshot file before its replacement is stored, nor change anything but `tags` and `original`.

import { RepoError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import { saveSnapshot, type Snapshot, type StoredSnapshot } from './snapshot.js';

export interface TagChanges {
  /** Tags to add when missing. */
  add?: string[];
  /** Tags to remove when present. */
  remove?: string[];
  /** Replaces all tags (an empty list clears them); exclusive with add/remove. */
  set?: string[];
}

export interface TagResult {
  oldId: string;
  newId: string;
  tags: string[];
}

export type TagRepo = Pick<Repository, 'saveUnpacked' | 'loadUnpacked' | 'listNames' | 'backend'>;

/** Checks that the changes make sense together: --set cannot be combined with --add/--remove, and something must be asked for. */
export function validateTagChanges(c: TagChanges): void {
  const has = (l?: string[]) => l !== undefined;
  if (has(c.set) && (has(c.add) || has(c.remove))) {
    throw new RepoError('INVALID_ARGUMENT', '--set cannot be combined with --add or --remove');
  }
  if (!has(c.set) && (c.add?.length ?? 0) === 0 && (c.remove?.length ?? 0) === 0) {
    throw new RepoError('INVALID_ARGUMENT', 'nothing to do: give --add, --remove or --set');
  }
  for (const t of [...(c.add ?? []), ...(c.remove ?? []), ...(c.set ?? [])]) {
    if (t === '' || t !== t.trim()) throw new RepoError('INVALID_ARGUMENT', `invalid tag ${JSON.stringify(t)}`);
  }
}

/** The tag list after the changes: set replaces, then add appends missing tags, then remove drops; order is kept, duplicates go. */
export function applyTagChanges(tags: string[], c: TagChanges): string[] {
  let out = c.set !== undefined ? [...c.set] : [...tags];
  for (const t of c.add ?? []) out.push(t);
  const drop = new Set(c.remove ?? []);
  out = out.filter((t) => !drop.has(t));
  return [...new Set(out)];
}

/**
 * Applies the tag changes to each snapshot. A snapshot whose tags do not change is left alone (not in the result).
 * A changed one is stored anew (same time, tree and every other member; `original` names the first snapshot of the
 * chain of rewrites), and only then is the old file removed, so an interruption leaves at worst both.
 */
export async function tagSnapshots(
  repo: TagRepo,
  snapshots: StoredSnapshot[],
  changes: TagChanges,
): Promise<TagResult[]> {
  validateTagChanges(changes);
  const results: TagResult[] = [];
  const done = new Set<string>();
  for (const sn of snapshots) {
    if (done.has(sn.id)) continue;
    done.add(sn.id);
    const tags = applyTagChanges(sn.tags, changes);
    if (tags.length === sn.tags.length && tags.every((t, i) => t === sn.tags[i])) continue;
    const { id, ...rest } = sn;
    const next: Snapshot = { ...rest, tags, original: sn.original ?? id };
    const newId = await saveSnapshot(repo, next);
    if (newId !== id) await repo.backend.remove({ type: 'snapshots', name: id });
    results.push({ oldId: id, newId, tags });
  }
  return results;
}
