// check's PostgreSQL part: the archived WAL of every host must have no gap from the start of its oldest
// base backup to its newest segment (a base backup without its WAL cannot be recovered). Operations code
// (src/ops), so the CLI joins it to check's report, as with the audit log; it only reads.

import { errorMessage } from '../core/errors.js';
import type { CheckReport } from '../maintenance/check.js';
import { repositoryWalChains } from '../ops/pg-wal-chain.js';
import { WAL_TAG } from '../ops/pg-wal.js';
import type { Repository } from '../repository/repository.js';
import { loadSnapshot, type StoredSnapshot } from '../snapshot/snapshot.js';

export async function checkWalChains(repo: Repository, r: CheckReport): Promise<void> {
  // Damaged or unreadable snapshot files are check's own findings; here they are only left out.
  const all: StoredSnapshot[] = [];
  for (const name of await repo.listNames('snapshots').catch(() => [] as string[])) {
    const sn = await loadSnapshot(repo, name).catch(() => undefined);
    if (sn !== undefined) all.push(sn);
  }
  if (!all.some((sn) => sn.tags.includes(WAL_TAG))) return;
  // check opens the repository without its index (it verifies the index itself); reading backup_label needs one.
  let indexed: Repository;
  try {
    indexed = await repo.sibling({ workers: 0 });
  } catch (err) {
    r.problems.push({ kind: 'wal', message: `the archived WAL chain was not verified: ${errorMessage(err)}` });
    return;
  }
  try {
    const chains = await repositoryWalChains(indexed, all).catch((err: unknown) => {
      r.problems.push({ kind: 'wal', message: `the archived WAL chain could not be verified: ${errorMessage(err)}` });
      return [];
    });
    for (const { host, report } of chains) {
      if (report.oldestNeeded === undefined) {
        r.notes.push({
          kind: 'wal',
          message: `host ${host}: ${report.segments} archived WAL segments but no base backup to recover from`,
        });
        continue;
      }
      if (report.gaps.length > 0)
        r.problems.push({
          kind: 'wal',
          message: `host ${host}: the archived WAL has ${report.gaps.length}${report.gaps.length >= 100 ? '+' : ''} missing segment(s) between ${report.oldestNeeded} (start of the oldest base backup) and ${report.newest?.name ?? '(none)'}: ${report.gaps.slice(0, 10).join(', ')}${report.gaps.length > 10 ? ', …' : ''} (log and segment number; recovery past the first cannot proceed)`,
        });
      else
        r.notes.push({
          kind: 'wal',
          message: `host ${host}: WAL chain complete from ${report.oldestNeeded} to ${report.newest?.name ?? report.oldestNeeded} (${report.segments} segments)`,
        });
    }
  } finally {
    await indexed.close().catch(() => undefined);
  }
}
