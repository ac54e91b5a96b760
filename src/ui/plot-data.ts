// The figures behind the UI's and the HTML report's plots, as plain JSON: growth, dedupe and compression per
// snapshot (maintenance/stats), blob and pack size distributions (the index, the pack listing), check history
// (the audit log), RPO/RTO per profile (ops/status, given by the caller) and stored `repo analyze` runs.
// Read-only: never writes to the repository.

import { errorMessage } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { computeStats, type StatsReport } from '../maintenance/stats.js';
import { readAnalyses, type StoredAnalysis } from '../ops/analyses.js';
import { readAuditLog } from '../ops/audit.js';
import type { ProfileStatus } from '../ops/status.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, type SnapshotReader, type StoredSnapshot } from '../snapshot/snapshot.js';

/** One point per snapshot, in time order; `time` in Unix seconds (what uPlot takes). */
export interface SnapshotSeries {
  id: string[];
  short: string[];
  host: string[];
  time: number[];
  /** Bytes of the snapshot's files as restored. */
  logicalBytes: number[];
  /** Raw and stored bytes of the blobs this snapshot was the first to reference. */
  addedRawBytes: number[];
  addedStoredBytes: number[];
  /** Stored bytes of every blob referenced by this snapshot or an earlier one: the repository's size then. */
  repositoryBytes: number[];
  /** Logical bytes of all snapshots so far over the raw bytes of their distinct blobs. */
  dedupeRatio: number[];
  /** Raw over stored bytes of the distinct blobs so far. */
  compressionRatio: number[];
}

/** A histogram with power-of-two bins: `upper[i]` is the largest size counted in `counts[i]`. */
export interface Distribution {
  upper: number[];
  counts: number[];
}

export interface CheckPoint {
  time: number;
  result: string;
  /** Read rate a check with --read-data measured, bytes per second (null without one). */
  bytesPerSecond: number | null;
  bytesRead: number | null;
}

export interface AnalyzeRun {
  time: number;
  paths: string[];
  repository?: string;
  settings: { label: string; dedupeRatio: number; compressionRatio: number; uniqueBytes: number }[];
}

export interface HealthSummary {
  snapshots: number;
  newestSnapshot?: { id: string; time: string; ageSeconds: number };
  lastCheck?: { time: string; result: string; ageSeconds: number };
  repositoryBytes: number;
  packs: number;
  dedupeRatio: number;
  compressionRatio: number;
  /** Profiles that miss an objective, and other findings worth a look, one line each. */
  findings: string[];
}

export interface PlotData {
  repository: string;
  generated: string;
  /** Only snapshots, checks and analyze runs at or after this time are shown (report --since). */
  since?: string;
  snapshots: SnapshotSeries;
  blobSizes: { data: Distribution; tree: Distribution };
  packSizes: Distribution;
  checks: CheckPoint[];
  /** null: no repo.yaml (or it could not be read: `profilesNote` says why). */
  profiles: ProfileStatus[] | null;
  profilesNote?: string;
  analyze: AnalyzeRun[];
  health: HealthSummary;
}

export interface PlotDataOptions {
  /** Show only what happened at or after this time. */
  since?: Date;
  now?: Date;
  /** The profiles' statuses (the CLI reads repo.yaml); a thrown error becomes `profilesNote`. */
  profiles?: () => Promise<ProfileStatus[] | null>;
  stateDir?: string;
  /** Where snapshot files are read (the UI passes its cache); default the repository. */
  snapshots?: SnapshotReader;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

function histogram(sizes: Iterable<number>): Distribution {
  const counts: number[] = [];
  for (const s of sizes) {
    const bin = s <= 1 ? 0 : Math.ceil(Math.log2(s));
    while (counts.length <= bin) counts.push(0);
    counts[bin]++;
  }
  const first = counts.findIndex((c) => c > 0);
  const from = first < 0 ? 0 : first;
  return { upper: counts.slice(from).map((_, i) => 2 ** (from + i)), counts: counts.slice(from) };
}

/** The last stats computed per repository and the snapshots they were computed over: the UI asks again and again. */
const statsCache = new WeakMap<Repository, { key: string; stats: Promise<StatsReport> }>();

function statsOf(repo: Repository, all: StoredSnapshot[]): Promise<StatsReport> {
  const key = all.map((s) => s.id).join(',') + `/${repo.index.size}`;
  const hit = statsCache.get(repo);
  if (hit !== undefined && hit.key === key) return hit.stats;
  const stats = computeStats(repo, all, 'raw-data', { allSnapshots: true });
  statsCache.set(repo, { key, stats });
  stats.catch(() => statsCache.delete(repo));
  return stats;
}

/** Per-snapshot series from `repo stats` over every snapshot (in time order, so "added" means first referenced). */
async function snapshotSeries(repo: Repository, all: StoredSnapshot[], since?: Date): Promise<SnapshotSeries> {
  const stats = await statsOf(repo, all);
  const byId = new Map(all.map((s) => [s.id, s]));
  const out: SnapshotSeries = {
    id: [],
    short: [],
    host: [],
    time: [],
    logicalBytes: [],
    addedRawBytes: [],
    addedStoredBytes: [],
    repositoryBytes: [],
    dedupeRatio: [],
    compressionRatio: [],
  };
  let logical = 0;
  let raw = 0;
  let stored = 0;
  for (const s of stats.snapshots) {
    logical += s.logicalBytes;
    raw += s.addedRawBytes;
    stored += s.addedStoredBytes;
    const t = Date.parse(s.time);
    if (since !== undefined && t < since.getTime()) continue;
    out.id.push(s.id);
    out.short.push(shortId(s.id));
    out.host.push(byId.get(s.id)?.hostname ?? '');
    out.time.push(t / 1000);
    out.logicalBytes.push(s.logicalBytes);
    out.addedRawBytes.push(s.addedRawBytes);
    out.addedStoredBytes.push(s.addedStoredBytes);
    out.repositoryBytes.push(stored);
    out.dedupeRatio.push(ratio(logical, raw));
    out.compressionRatio.push(ratio(raw, stored));
  }
  return out;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function analyzeRun(r: StoredAnalysis): AnalyzeRun {
  const a = r.analysis;
  const settings = Array.isArray(a.settings) ? (a.settings as Record<string, unknown>[]) : [];
  return {
    time: Date.parse(r.time) / 1000,
    paths: Array.isArray(a.paths) ? a.paths.map(String) : [],
    repository: r.repository,
    settings: settings.map((s) => ({
      label: String(s.label ?? ''),
      dedupeRatio: num(s.dedupe_ratio) ?? 0,
      compressionRatio: ratio(num(s.unique_bytes) ?? 0, num(s.stored_bytes) ?? 0),
      uniqueBytes: num(s.unique_bytes) ?? 0,
    })),
  };
}

/** Everything the plots and the health summary show. */
export async function plotData(repo: Repository, opts: PlotDataOptions = {}): Promise<PlotData> {
  const now = opts.now ?? new Date();
  const since = opts.since;
  const sinceS = since === undefined ? -Infinity : since.getTime() / 1000;
  const all = await listSnapshots(opts.snapshots ?? repo);
  const snapshots = await snapshotSeries(repo, all, since);

  const dataSizes: number[] = [];
  const treeSizes: number[] = [];
  for (const e of repo.index.entries()) (e.type === 'data' ? dataSizes : treeSizes).push(e.rawLength);
  const packs: number[] = [];
  for await (const f of repo.backend.list('data')) packs.push(f.size);

  const log = await readAuditLog(repo, { stateDir: opts.stateDir });
  const checks: CheckPoint[] = log.entries
    .filter((e) => e.operation === 'check' && Date.parse(e.time) / 1000 >= sinceS)
    .map((e) => ({
      time: Date.parse(e.time) / 1000,
      result: e.result,
      bytesPerSecond: num(e.details?.bytes_per_second),
      bytesRead: num(e.details?.bytes_read),
    }));

  let profiles: ProfileStatus[] | null = null;
  let profilesNote: string | undefined;
  try {
    profiles = (await opts.profiles?.()) ?? null;
    if (profiles === null) profilesNote = 'no repo.yaml: RPO/RTO objectives come from its profiles';
  } catch (err) {
    profilesNote = errorMessage(err);
  }
  const analyze = (await readAnalyses(opts.stateDir)).map(analyzeRun).filter((r) => r.time >= sinceS);

  const newest = all[all.length - 1];
  const lastCheck = log.entries.filter((e) => e.operation === 'check').at(-1);
  const age = (t: string) => (now.getTime() - Date.parse(t)) / 1000;
  const n = snapshots.time.length;
  const health: HealthSummary = {
    snapshots: all.length,
    newestSnapshot: newest && { id: newest.id, time: newest.time, ageSeconds: age(newest.time) },
    lastCheck: lastCheck && { time: lastCheck.time, result: lastCheck.result, ageSeconds: age(lastCheck.time) },
    repositoryBytes: packs.reduce((a, b) => a + b, 0),
    packs: packs.length,
    dedupeRatio: n > 0 ? snapshots.dedupeRatio[n - 1] : 0,
    compressionRatio: n > 0 ? snapshots.compressionRatio[n - 1] : 0,
    findings: [],
  };
  if (all.length === 0) health.findings.push('the repository has no snapshot');
  if (lastCheck === undefined) health.findings.push('no check is recorded in the audit log');
  else if (lastCheck.result !== 'success') health.findings.push(`the last check (${lastCheck.time}) found problems`);
  for (const p of profiles ?? [])
    for (const o of p.objectives)
      if (o.state !== 'met')
        health.findings.push(`profile ${p.profile}: ${o.objective.toUpperCase()} ${o.state}: ${o.message}`);
  for (const pr of log.problems) health.findings.push(`audit log: ${pr.message}`);

  return {
    repository: repo.backend.location,
    generated: now.toISOString(),
    since: since?.toISOString(),
    snapshots,
    blobSizes: { data: histogram(dataSizes), tree: histogram(treeSizes) },
    packSizes: histogram(packs),
    checks,
    profiles,
    profilesNote,
    analyze,
    health,
  };
}
