// `repo check`: verifies the repository's structure and, with --read-data or a subset, every stored byte.
// Read-only (shared lock); exits 1 when it finds a problem, and names the damaged files, snapshots and paths.

import type { Command } from 'commander';
import {
  checkRepository,
  MIN_RATE_BYTES,
  MIN_RATE_SUBSET,
  type CheckProgress,
  type CheckReport,
} from '../maintenance/check.js';
import { parseSubset } from '../maintenance/subset.js';
import { findShortLocks, repositoryLock } from '../maintenance/object-lock.js';
import { verifyAuditLog } from '../ops/audit.js';
import { checkWalChains } from './check-wal.js';
import { Env, runtime, withRepository } from './context.js';
import { formatBytes, formatElapsed } from './format.js';
import { describePhase, describeTransfer, StatusBlock } from './progress.js';
import { snakeKeys } from './json-messages.js';

interface CheckFlags {
  readData?: boolean;
  readDataSubset?: string;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check the repository for errors; --read-data also reads and verifies every pack')
    .option('--read-data', 'read all packs and verify every blob')
    .option(
      '--read-data-subset <subset>',
      'read a subset of packs: n/t (e.g. 2/5), a percentage (10%) or a size (500M)',
    )
    .action((flags: CheckFlags, c: Command) => runCheck(Env.from(c), flags));
}

async function runCheck(env: Env, flags: CheckFlags): Promise<void> {
  const subset = flags.readDataSubset === undefined ? undefined : parseSubset(flags.readDataSubset);
  let last: CheckProgress = { phase: 'opening the repository', done: 0, total: 0 };
  let phaseSince = Date.now(); // rate and ETA count from the start of the phase that has counts
  const block = new StatusBlock(env.out.progress, (secs) => [
    describeCheck(secs, (Date.now() - phaseSince) / 1000, last),
  ]).start();
  const progress = {
    update: (p: CheckProgress) => {
      if (p.phase !== last.phase) phaseSince = Date.now();
      // The data read goes on while trees are walked: a phase without counts does not hide its progress.
      if (p.total > 0 || last.phase !== 'read data') last = p;
    },
    done: () => block.clear(),
  };
  const report = await withRepository(
    env,
    { skipIndex: true, noCache: true, workers: 0 }, // check reads the repository itself, never a cached copy; it seals nothing
    async (repo) => {
      const r = await checkRepository(repo, {
        readData: flags.readData === true,
        subset,
        signal: env.signal,
        onProgress: (p) => progress.update(p),
      });
      // The audit log is an operations feature (src/ops), so check's library core does not know it; the CLI joins them.
      const audit = await verifyAuditLog(repo);
      for (const p of audit.problems) r.problems.push({ kind: 'audit', message: p.message, file: p.file });
      for (const n of audit.notes) r.notes.push({ kind: 'audit', message: n.message });
      await checkWalChains(repo, r);
      if (repositoryLock(repo) !== undefined) {
        await repo.loadIndex(); // opened without it: check reads index files itself; the lock check needs the blob → pack map
        for (const s of await findShortLocks(repo)) {
          const have = s.until === null ? 'is not locked' : `is locked only until ${s.until}`;
          const who = s.snapshots.map((id) => id.slice(0, 8)).join(', ');
          r.problems.push({
            kind: 'object-lock',
            message: `${s.file} ${have}, but snapshot ${who} needs it locked until ${s.neededUntil}${s.file.startsWith('data/') ? ' (the next backup that uses it extends the lock)' : ''}`,
            file: s.file,
          });
        }
      }
      r.ok = r.problems.length === 0;
      return r;
    },
    'shared',
  ).finally(() => progress.done());
  if (!report.ok) runtime.exitCode = 1;
  if (env.out.json) {
    env.out.printJson(reportJson(report));
    return;
  }
  printReport(env, report);
}

/** "[0:04] reading packs  45.20%  6 / 14 packs  1.200 GiB / 3.000 GiB  98.400 MiB/s  ETA 0:05". */
function describeCheck(secs: number, phaseSecs: number, p: CheckProgress): string {
  if (p.total === 0) return describePhase(secs, p.phase);
  const label = p.phase === 'read data' ? 'reading packs' : `checking ${p.phase}`;
  return describeTransfer({
    label,
    seconds: secs,
    workSeconds: phaseSecs,
    done: p.done,
    total: p.total,
    unit: 'packs',
    bytesDone: p.bytes,
    bytesTotal: p.bytesTotal,
  });
}

function reportJson(r: CheckReport): Record<string, unknown> {
  return {
    message_type: 'check_summary',
    ok: r.ok,
    counts: snakeKeys(r.counts),
    problems: snakeKeys(r.problems),
    notes: snakeKeys(r.notes),
    affected: snakeKeys(r.affected),
    read_data: r.readData && {
      packs_read: r.readData.packsRead,
      bytes_read: r.readData.bytesRead,
      blobs_checked: r.readData.blobsChecked,
      seconds: r.readData.seconds,
      bytes_per_second: r.readData.bytesPerSecond,
      latest_snapshot: r.readData.latestSnapshot,
      rate_measured: r.readData.rateMeasured,
      rate_minimum_bytes: MIN_RATE_BYTES,
      restore_snapshots: r.readData.restoreSnapshots,
      restore_stored_bytes: r.readData.restoreStoredBytes,
      estimated_restore_seconds: r.readData.estimatedRestoreSeconds,
    },
  };
}

function printReport(env: Env, r: CheckReport): void {
  const c = r.counts;
  env.out.info(
    `checked ${c.keys} keys, ${c.indexFiles} index files, ${c.packs} packs, ${c.blobs} blobs, ${c.snapshots} snapshots, ${c.trees} trees`,
  );
  for (const n of r.notes) env.out.info(`note: ${n.message}`);
  if (r.readData) {
    const d = r.readData;
    env.out.info(
      `read ${d.packsRead} packs, ${formatBytes(d.bytesRead)} in ${formatElapsed(d.seconds)} (${formatBytes(d.bytesPerSecond)}/s), ${d.blobsChecked} blobs verified`,
    );
    const heads = d.restoreSnapshots ?? [];
    const what = `the latest snapshot of ${heads.length === 1 ? 'its one path set' : `each of its ${heads.length} path sets`} (${formatBytes(d.restoreStoredBytes ?? 0)} stored)`;
    if (d.estimatedRestoreSeconds !== undefined) {
      env.out.info(
        `estimated time to restore ${what}: ${formatElapsed(d.estimatedRestoreSeconds)} (reading and decrypting at this read rate; writing the files is not included)`,
      );
    } else if (heads.length > 0) {
      env.out.info(
        `restore time unknown: this check read ${formatBytes(d.bytesRead)}, too little to measure a read rate (at least ${formatBytes(MIN_RATE_BYTES)} or the whole repository); run \`repo check --read-data-subset ${MIN_RATE_SUBSET}\``,
      );
    }
  }
  for (const p of r.problems) env.out.print(`error: ${p.message}`);
  if (r.affected.length > 0) {
    env.out.print(`affected files (${r.affected.length}):`);
    for (const a of r.affected.slice(0, 200)) env.out.print(`  snapshot ${a.snapshot.slice(0, 8)}: ${a.path}`);
    if (r.affected.length > 200) env.out.print(`  … and ${r.affected.length - 200} more (see --json)`);
  }
  env.out.info(
    r.ok
      ? 'no errors were found'
      : `${r.problems.length} error${r.problems.length === 1 ? '' : 's'} found; "repo repair" can rebuild the index and save what is readable`,
  );
}
