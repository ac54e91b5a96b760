// Test helpers for snapshot trees in the full-path layout (spec §10): the tree of a backed-up directory
// is found at its absolute path, under intermediate directories whose metadata changes with the system.
// Only tests import this; nothing in src/ may.

import type { Repository } from '../../src/repository/repository.js';
import { resolveSnapshotPath } from '../../src/restorer/index.js';
import type { Snapshot } from '../../src/snapshot/snapshot.js';

/** The tree id of the directory backed up from `abs` in a snapshot. */
export async function treeAt(repo: Pick<Repository, 'loadBlob'>, sn: Snapshot, abs: string): Promise<string> {
  const r = await resolveSnapshotPath(repo, sn, abs);
  if (r.treeId === undefined) throw new Error(`${abs} is not a directory in the snapshot`);
  return r.treeId;
}
