// `repo status`: whether each profile meets its objectives, from what the repository itself says:
// - RPO: the age of the profile's newest snapshot (the oldest of the newest per path group, so a database
//   whose dumps keep failing is not hidden by fresh file backups);
// - check: result and age of the newest check in the audit log, against the check policy's `every`;
// - RTO: the stored size of the newest snapshot of every path set (a full restore) divided by the read rate the
//   newest check measured that read enough to measure one (MIN_RATE_BYTES or every pack). Without such a
//   check the RTO is unknown: reported as such (exit 4), never as a miss computed from a meaningless rate.
// Also renders Prometheus text-format metrics for node_exporter's textfile collector.

import { errorMessage } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import { formatBytes, formatElapsed } from '../core/units.js';
import { MIN_RATE_BYTES, MIN_RATE_SUBSET, newestPerPathSet } from '../maintenance/check.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';
import { walkTree } from '../tree/walk.js';
import { newestAudit, readAuditLog, type StoredAuditEntry } from './audit.js';
import type { ProfileConfig } from './config.js';
import { belongsToProfile, openProfileRepository, type RepoAccess } from './repos.js';
import { hasPhysicalDatabase, walStatus, type WalStatus } from './pg-wal-status.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { replayRate } from './pg-replay-rate.js';
import { defaultStateDir } from './state.js';

export interface ObjectiveStatus {
  objective: 'rpo' | 'rto' | 'check';
  met: boolean;
  /** 'unknown': nothing measured it yet (an RTO without a check that measured a read rate). */
  state: 'met' | 'missed' | 'unknown';
  /** The objective in seconds (rpo, rto) or the check interval. */
  targetSeconds: number;
  /** The measured value in seconds (snapshot age, estimated restore time, check age), when known. */
  valueSeconds?: number;
  message: string;
}

export interface ProfileStatus {
  profile: string;
  repository: string;
  /** False when the repository could not be read: every objective then counts as missed. */
  reachable: boolean;
  error?: string;
  snapshots: number;
  newestSnapshot?: { id: string; time: string; ageSeconds: number };
  /** Newest snapshot of each path group (files, each database). */
  groups: { paths: string[]; id: string; time: string; ageSeconds: number }[];
  lastJob?: { time: string; result: string; durationSeconds?: number; bytesAdded?: number };
  lastSuccess?: string;
  lastCheck?: { time: string; ageSeconds: number; result: string; bytesPerSecond?: number };
  restore?: {
    /** Stored bytes of the distinct blobs of `snapshots`: what a full restore reads and decrypts. */
    storedBytes: number;
    /** The newest snapshot of every path set of the profile. */
    snapshots: string[];
    bytesPerSecond?: number;
    estimatedSeconds?: number;
    rateFrom?: string;
    /** WAL replay (fetch and replay per segment) as a recovery on this machine measured it, and its share. */
    replayBytesPerSecond?: number;
    replaySeconds?: number;
    replayRateFrom?: string;
    /** What the estimate covers, in words. */
    includes: string;
  };
  /** Continuous WAL archiving of a `mode: physical` PostgreSQL entry (ops/pg-wal-status.ts). */
  wal?: WalStatus;
  repositoryBytes?: number;
  logicalBytes?: number;
  dedupeRatio?: number;
  objectives: ObjectiveStatus[];
  ok: boolean;
}

export interface StatusOptions extends RepoAccess {
  now?: Date;
  /** Also estimate the restore time of profiles without an RTO (for metrics). */
  detailed?: boolean;
  stateDir?: string | null;
}

/** Stored bytes of every blob the given trees reference, each counted once. */
export async function storedBytesOf(repo: Repository, trees: string[]): Promise<number> {
  let total = 0;
  const counted = new Set<string>();
  const seen = new Set<string>();
  const add = (type: 'data' | 'tree', hex: string) => {
    const key = type + hex;
    if (counted.has(key)) return;
    counted.add(key);
    total += repo.index.lookup(type, idFromHex(hex))?.storedLength ?? 0;
  };
  for (const t of trees) {
    add('tree', t);
    await walkTree(
      (id) => loadTree(repo, id),
      t,
      {
        node: (n) => {
          for (const c of n.content ?? []) add('data', c);
          if (n.subtree) add('tree', n.subtree);
        },
        treeError: () => undefined,
      },
      { uniqueTrees: true, seen },
    );
  }
  return total;
}

/**
 * Whether a check's audit entry measured a read rate worth extrapolating: it says so (rate_measured), or,
 * written before that field, it read at least MIN_RATE_BYTES.
 */
function rateCounts(e: StoredAuditEntry): boolean {
  const rate = num(e.details?.bytes_per_second);
  if (rate === undefined || rate <= 0) return false;
  const measured = e.details?.rate_measured;
  return typeof measured === 'boolean' ? measured : (num(e.details?.bytes_read) ?? 0) >= MIN_RATE_BYTES;
}

/** Evaluates one profile. Never throws: an unreachable repository is a status with reachable=false. */
export async function profileStatus(p: ProfileConfig, opts: StatusOptions = {}): Promise<ProfileStatus> {
  const now = opts.now ?? new Date();
  const st: ProfileStatus = {
    profile: p.name,
    repository: p.repository,
    reachable: false,
    snapshots: 0,
    groups: [],
    objectives: [],
    ok: false,
  };
  let repo: Repository | undefined;
  try {
    repo = await openProfileRepository(p, opts, { workers: 0 });
    st.repository = repo.backend.location;
    const all = await listSnapshots(repo);
    const mine = all.filter(belongsToProfile(p));
    st.snapshots = mine.length;
    const age = (t: string) => (now.getTime() - Date.parse(t)) / 1000;
    const newest = mine[mine.length - 1];
    if (newest) st.newestSnapshot = { id: newest.id, time: newest.time, ageSeconds: age(newest.time) };
    const heads = newestPerPathSet(mine);
    st.groups = heads.map((sn) => ({ paths: sn.paths, id: sn.id, time: sn.time, ageSeconds: age(sn.time) }));

    if (hasPhysicalDatabase(p)) st.wal = await walStatus(repo, p, now);
    // With WAL archiving, a base backup's data is as fresh as the newest archived segment.
    const walAge = st.wal?.ageSeconds;
    if (walAge !== undefined)
      for (const g of st.groups) if (g.paths.every((x) => st.wal!.basePaths.includes(x))) g.ageSeconds = walAge;

    const log = await readAuditLog(repo, { stateDir: opts.stateDir });
    const jobs = log.entries.filter((e) => e.operation === 'job' && e.profile === p.name);
    const lastJob = jobs[jobs.length - 1];
    if (lastJob) {
      st.lastJob = {
        time: lastJob.time,
        result: lastJob.result,
        durationSeconds: num(lastJob.details?.duration_seconds),
        bytesAdded: num(lastJob.details?.bytes_added),
      };
    }
    const lastOk = newestAudit(jobs, (e) => e.result === 'success' || e.result === 'partial');
    st.lastSuccess = lastOk?.time ?? (newest ? isoOf(newest.time) : undefined);
    const check = newestAudit(
      log.entries,
      (e) => e.operation === 'check' && (e.result === 'success' || e.result === 'failure'),
    );
    const rated = newestAudit(log.entries, (e) => e.operation === 'check' && rateCounts(e));
    if (check)
      st.lastCheck = {
        time: check.time,
        ageSeconds: age(check.time),
        result: check.result,
        bytesPerSecond: num(check.details?.bytes_per_second),
      };

    let packBytes = 0;
    for await (const f of repo.backend.list('data')) packBytes += f.size;
    st.repositoryBytes = packBytes;
    st.logicalBytes = all.reduce((n, sn) => n + (num(sn.summary?.total_bytes_processed) ?? 0), 0);
    if (packBytes > 0 && st.logicalBytes > 0) st.dedupeRatio = st.logicalBytes / packBytes;

    if (heads.length > 0 && (p.objectives.rtoMs !== undefined || opts.detailed === true)) {
      const stored = await storedBytesOf(
        repo,
        heads.map((h) => h.tree),
      );
      const rate = rated ? num(rated.details?.bytes_per_second) : undefined;
      const wal = st.wal?.replayStoredBytes ?? 0;
      // WAL replay at the rate a real recovery on this machine measured (ops/pg-replay-rate.ts): it covers
      // fetching and replaying each segment, so the WAL's stored bytes are not also counted at the read rate.
      const replay =
        st.wal !== undefined && opts.stateDir !== null
          ? await replayRate(opts.stateDir ?? defaultStateDir(), p.name)
          : undefined;
      const replaySeconds = replay ? st.wal!.replayWalBytes / replay.bytesPerSecond : undefined;
      const files = `reading and decrypting the ${heads.length === 1 ? 'newest snapshot' : `newest snapshots of ${heads.length} path sets`}`;
      st.restore = {
        storedBytes: stored + wal,
        snapshots: heads.map((h) => h.id),
        bytesPerSecond: rate,
        rateFrom: rated?.time,
        estimatedSeconds: rate ? (replay ? stored / rate + replaySeconds! : (stored + wal) / rate) : undefined,
        replayBytesPerSecond: replay?.bytesPerSecond,
        replaySeconds,
        replayRateFrom: replay?.time,
        includes: !st.wal
          ? `${files} at the read rate a check measured; writing the files not included`
          : replay
            ? `${files} at the read rate a check measured, then fetching and replaying ${st.wal.replaySegments} WAL segments (${formatBytes(st.wal.replayWalBytes)}) at the ${formatBytes(replay.bytesPerSecond)}/s a recovery measured on ${replay.time}; writing the files not included`
            : `${files} and ${st.wal.replaySegments} archived WAL segments to replay at the read rate a check measured; writing the files and PostgreSQL's replay not included (no recovery measured its replay rate yet)`,
      };
    }
    st.reachable = true;
    evaluate(p, st, log.entries);
  } catch (err) {
    st.error = errorMessage(err);
    evaluate(p, st, []);
  } finally {
    await repo?.close().catch(() => undefined);
  }
  return st;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function isoOf(rfc3339: string): string {
  const t = Date.parse(rfc3339);
  return Number.isNaN(t) ? rfc3339 : new Date(t).toISOString();
}

function evaluate(p: ProfileConfig, st: ProfileStatus, _entries: StoredAuditEntry[]): void {
  const o = p.objectives;
  const unreachable = st.reachable ? undefined : `repository unreadable: ${st.error}`;
  if (o.rpoMs !== undefined) {
    const target = o.rpoMs / 1000;
    // The RPO holds for a profile only when every group (files and each database) has a fresh snapshot.
    const expectedGroups = (p.sources.length > 0 ? 1 : 0) + p.databases.length;
    const oldest = st.groups.length > 0 ? Math.max(...st.groups.map((g) => g.ageSeconds)) : undefined;
    const missingGroup = st.groups.length < expectedGroups;
    const walGaps = st.wal?.gaps.length ?? 0; // recovery stops at the first missing segment
    const met = unreachable === undefined && oldest !== undefined && oldest <= target && !missingGroup && walGaps === 0;
    st.objectives.push({
      objective: 'rpo',
      met,
      state: met ? 'met' : 'missed',
      targetSeconds: target,
      valueSeconds: oldest,
      message:
        unreachable ??
        (walGaps > 0
          ? `the archived WAL misses ${walGaps} segment(s) from ${st.wal!.gaps[0]}: recovery cannot pass it (RPO ${o.rpoText})`
          : oldest === undefined
            ? `no snapshot yet (RPO ${o.rpoText})`
            : missingGroup
              ? `only ${st.groups.length} of ${expectedGroups} backups (files, databases) have a snapshot (RPO ${o.rpoText})`
              : `newest backup is ${formatElapsed(oldest, 'short')} old (RPO ${o.rpoText})`),
    });
  }
  if (p.check?.everyMs !== undefined) {
    const target = p.check.everyMs / 1000;
    const c = st.lastCheck;
    const met = unreachable === undefined && c !== undefined && c.result === 'success' && c.ageSeconds <= target * 1.5;
    st.objectives.push({
      objective: 'check',
      met,
      state: met ? 'met' : 'missed',
      targetSeconds: target,
      valueSeconds: c?.ageSeconds,
      message:
        unreachable ??
        (c === undefined
          ? `never checked (every ${p.check.everyText})`
          : `last check ${c.result === 'success' ? 'passed' : 'FAILED'} ${formatElapsed(c.ageSeconds, 'short')} ago (every ${p.check.everyText})`),
    });
  }
  if (o.rtoMs !== undefined) {
    const target = o.rtoMs / 1000;
    const est = st.restore?.estimatedSeconds;
    const met = unreachable === undefined && est !== undefined && est <= target;
    const unknown = unreachable === undefined && est === undefined && st.groups.length > 0;
    const r = st.restore;
    st.objectives.push({
      objective: 'rto',
      met,
      state: met ? 'met' : unknown ? 'unknown' : 'missed',
      targetSeconds: target,
      valueSeconds: est,
      message:
        unreachable ??
        (st.groups.length === 0
          ? `no snapshot to restore (RTO ${o.rtoText})`
          : est === undefined || r === undefined
            ? `RTO unknown — run \`repo check --read-data-subset ${MIN_RATE_SUBSET}\` (no check has read enough to measure a read rate: at least ${formatBytes(MIN_RATE_BYTES)} or the whole repository) (RTO ${o.rtoText})`
            : `full restore estimated at ${formatElapsed(est, 'short')}: ${formatBytes(r.storedBytes)} of ${r.snapshots.length === 1 ? 'the newest snapshot' : `the newest snapshots of ${r.snapshots.length} path sets`} read at ${formatBytes(r.bytesPerSecond ?? 0)}/s; writing the files is not included (RTO ${o.rtoText})`),
    });
  }
  st.ok = st.reachable && st.objectives.every((x) => x.met);
}

// ---------------------------------------------------------------------------------------------------------
// Prometheus text format

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Prometheus text exposition format (version 0.0.4) of the statuses. */
export function metricsText(statuses: ProfileStatus[], now = new Date()): string {
  const families = new Map<string, { help: string; samples: string[] }>();
  const put = (name: string, help: string, labels: Record<string, string>, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value)) return;
    const f = families.get(name) ?? { help, samples: [] };
    families.set(name, f);
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${esc(v)}"`)
      .join(',');
    f.samples.push(`${name}{${l}} ${value}`);
  };
  const ts = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso) / 1000);
  for (const s of statuses) {
    const L = { profile: s.profile, repository: s.repository };
    put('repo_up', 'Whether the repository of the profile could be read (1) or not (0).', L, s.reachable ? 1 : 0);
    put('repo_objectives_met', 'Whether every objective of the profile is met (1) or not (0).', L, s.ok ? 1 : 0);
    for (const o of s.objectives) {
      put(
        'repo_objective_met',
        'Whether one objective (rpo, rto, check) is met.',
        { ...L, objective: o.objective },
        o.met ? 1 : 0,
      );
      put(
        'repo_objective_unknown',
        'Whether one objective cannot be evaluated yet (1: an RTO without a measured read rate).',
        { ...L, objective: o.objective },
        o.state === 'unknown' ? 1 : 0,
      );
      put(
        'repo_objective_target_seconds',
        'The objective: RPO, RTO or check interval, in seconds.',
        { ...L, objective: o.objective },
        o.targetSeconds,
      );
      put(
        'repo_objective_value_seconds',
        'The measured value: newest backup age, estimated restore time or check age.',
        { ...L, objective: o.objective },
        o.valueSeconds,
      );
    }
    put('repo_snapshots', 'Snapshots of the profile in its repository.', L, s.reachable ? s.snapshots : undefined);
    put(
      'repo_newest_snapshot_timestamp_seconds',
      'Time of the newest snapshot of the profile.',
      L,
      ts(s.newestSnapshot ? isoOf(s.newestSnapshot.time) : undefined),
    );
    put('repo_last_success_timestamp_seconds', 'Time of the last successful job of the profile.', L, ts(s.lastSuccess));
    put('repo_last_run_timestamp_seconds', 'Time the last job of the profile finished.', L, ts(s.lastJob?.time));
    put(
      'repo_last_run_success',
      'Whether the last job succeeded (1) or not (0).',
      L,
      s.lastJob === undefined ? undefined : s.lastJob.result === 'success' || s.lastJob.result === 'partial' ? 1 : 0,
    );
    put('repo_last_run_duration_seconds', 'Duration of the last job.', L, s.lastJob?.durationSeconds);
    put('repo_last_run_added_bytes', 'New data (before compression) the last job added.', L, s.lastJob?.bytesAdded);
    put('repo_last_check_timestamp_seconds', 'Time of the newest check.', L, ts(s.lastCheck?.time));
    put(
      'repo_last_check_success',
      'Whether the newest check found no problem.',
      L,
      s.lastCheck === undefined ? undefined : s.lastCheck.result === 'success' ? 1 : 0,
    );
    put(
      'repo_read_rate_bytes_per_second',
      'Read rate the newest check with read-data measured.',
      L,
      s.restore?.bytesPerSecond,
    );
    put('repo_restore_stored_bytes', 'Stored bytes a full restore of the profile reads.', L, s.restore?.storedBytes);
    put(
      'repo_estimated_restore_seconds',
      'Estimated duration of a full restore of the profile.',
      L,
      s.restore?.estimatedSeconds,
    );
    put('repo_wal_newest_age_seconds', 'Age of the newest archived WAL segment.', L, s.wal?.ageSeconds);
    put('repo_wal_missing_segments', 'WAL segments missing after the oldest base backup.', L, s.wal?.gaps.length);
    put('repo_repository_size_bytes', 'Bytes of all pack files of the repository.', L, s.repositoryBytes);
    put('repo_dedupe_ratio', 'Bytes of all snapshots as backed up, divided by the stored bytes.', L, s.dedupeRatio);
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} gauge`, ...f.samples);
  }
  out.push(
    `# HELP repo_status_timestamp_seconds When these metrics were computed.`,
    `# TYPE repo_status_timestamp_seconds gauge`,
    `repo_status_timestamp_seconds ${now.getTime() / 1000}`,
  );
  return out.join('\n') + '\n';
}

/** Writes the metrics atomically (node_exporter must never read half a file). */
export async function writeMetricsFile(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, { mode: 0o644, makeDir: true });
}
