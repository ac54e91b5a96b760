// `repo analyze`: what backing up some paths would cost under several chunker settings, from one read of the data.
// Writes nothing anywhere; a repository, when given, is only consulted through its config, id key and in-memory index.

import { DEFAULT_CHUNKER_PARAMS, type ChunkerParams } from '../chunker/chunker.js';
import { RepoError } from '../core/errors.js';
import { compressionLevel } from '../repository/compression.js';
import { padsBlobs } from '../repository/config.js';
import type { Repository } from '../repository/repository.js';
import { defaultAnalyzeWorkers, runJobs } from './pool.js';
import { INDEX_BYTES_PER_BLOB, sameSetting, settingLabel, uniqueSettings } from './settings.js';
import { listSources, type SourceWarning } from './sources.js';

export type AnalyzeRepo = Pick<Repository, 'index' | 'config' | 'key' | 'id'>;

export interface AnalyzeOptions {
  /** Chunker settings to compare (default: the repository's, else the default 128K/512K/2M). The repository's is always added. */
  settings?: ChunkerParams[];
  /** zstd level of the stored-size estimate (default: the repository's compression, else 3; 0 = none). */
  compressionLevel?: number;
  /** Compare with this repository: what a backup into it would add, with its own chunker and keyed blob ids. */
  repo?: AnalyzeRepo;
  /** Worker threads (default: one per core, at most 8; 0 = the calling thread). */
  workers?: number;
  readSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: AnalyzeProgress) => void;
}

export interface AnalyzeProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface AddedBytes {
  addedChunks: number;
  addedBytes: number;
  addedStoredBytes: number;
}

/** One PATH argument, analysed as the next snapshot after the previous ones. */
export interface AnalyzeSnapshotRow extends AddedBytes {
  path: string;
  files: number;
  bytes: number;
  chunks: number;
}

export interface RepoComparison extends AddedBytes {
  repository: string;
  /** Distinct chunks the repository already stores. */
  knownChunks: number;
  /** Per PATH argument: what backing it up would add, after the previous ones. */
  snapshots: AddedBytes[];
}

export interface AnalyzeSettingReport {
  chunker: ChunkerParams;
  label: string;
  logicalBytes: number;
  chunks: number;
  averageChunkSize: number;
  uniqueChunks: number;
  uniqueBytes: number;
  dedupeRatio: number;
  /**
   * Estimated stored bytes of the distinct chunks: zstd (kept only if smaller), padded to a Padmé class when the
   * repository compared is format 2, plus 40 bytes of sealing each.
   */
  storedBytes: number;
  compressionRatio: number;
  /** Estimated in-memory index size for the distinct chunks (57 bytes each). */
  indexBytes: number;
  snapshots: AnalyzeSnapshotRow[];
  repository?: RepoComparison;
}

export interface AnalyzeReport {
  paths: string[];
  /** Distinct files read (a file in several PATHs or hard-linked is read once). */
  files: number;
  bytesRead: number;
  compressionLevel: number;
  workers: number;
  settings: AnalyzeSettingReport[];
  warnings: SourceWarning[];
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);

export async function analyzePaths(paths: string[], opts: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  if (paths.length === 0) throw new RepoError('INVALID_ARGUMENT', 'no paths to analyze');
  const repo = opts.repo;
  const requested =
    opts.settings && opts.settings.length > 0 ? opts.settings : [repo?.config.chunker ?? DEFAULT_CHUNKER_PARAMS];
  const settings = uniqueSettings(repo ? [...requested, repo.config.chunker] : requested);
  const level = opts.compressionLevel ?? (repo ? compressionLevel(repo.config.compression) : 3);
  if (!Number.isInteger(level) || level < 0 || level > 22)
    throw new RepoError('INVALID_ARGUMENT', `invalid zstd level ${level}`);

  const { jobs, roots, warnings } = await listSources(paths, opts.signal);
  const bytesTotal = jobs.reduce((n, j) => n + j.size, 0);
  const progress: AnalyzeProgress = { filesDone: 0, filesTotal: jobs.length, bytesDone: 0, bytesTotal };
  // A format-2 repository pads every blob it stores; the estimate pads the same way (for every setting compared).
  const pad = repo !== undefined && padsBlobs(repo.config);
  const run = await runJobs({ settings, level, pad, idKey: repo?.key.idKey, readSize: opts.readSize }, jobs, {
    workers: opts.workers ?? defaultAnalyzeWorkers(),
    signal: opts.signal,
    onFile: (_job, r) => {
      progress.filesDone++;
      progress.bytesDone += r.bytes;
      opts.onProgress?.({ ...progress });
    },
  });

  // Per PATH: files, bytes and chunk references of the files it holds (each file counts in every PATH holding it).
  const rows = roots.map((r) => ({ path: r.path, files: 0, bytes: 0, chunks: settings.map(() => 0) }));
  let files = 0;
  let bytesRead = 0;
  for (const [i, job] of jobs.entries()) {
    const r = run.results[i];
    if (r.error !== undefined) {
      warnings.push({ path: job.path.toString('utf8'), message: r.error });
      continue;
    }
    files++;
    bytesRead += r.bytes;
    for (const snap of job.snaps) {
      rows[snap].files++;
      rows[snap].bytes += r.bytes;
      r.chunks.forEach((n, s) => (rows[snap].chunks[s] += n));
    }
  }

  const logicalBytes = rows.reduce((n, r) => n + r.bytes, 0);
  const reports = settings.map((chunker, s): AnalyzeSettingReport => {
    const t = run.tables[s];
    const added = rows.map(() => ({ addedChunks: 0, addedBytes: 0, addedStoredBytes: 0 }));
    let uniqueBytes = 0;
    let storedBytes = 0;
    for (let i = 0; i < t.size; i++) {
      uniqueBytes += t.raw[i];
      storedBytes += t.stored[i];
      const a = added[t.snap[i]];
      a.addedChunks++;
      a.addedBytes += t.raw[i];
      a.addedStoredBytes += t.stored[i];
    }
    const chunks = rows.reduce((n, r) => n + r.chunks[s], 0);
    const rep: AnalyzeSettingReport = {
      chunker,
      label: settingLabel(chunker),
      logicalBytes,
      chunks,
      averageChunkSize: ratio(logicalBytes, chunks),
      uniqueChunks: t.size,
      uniqueBytes,
      dedupeRatio: ratio(logicalBytes, uniqueBytes),
      storedBytes,
      compressionRatio: ratio(uniqueBytes, storedBytes),
      indexBytes: t.size * INDEX_BYTES_PER_BLOB,
      snapshots: rows.map((r, k) => ({
        path: r.path,
        files: r.files,
        bytes: r.bytes,
        chunks: r.chunks[s],
        ...added[k],
      })),
    };
    if (repo && sameSetting(chunker, repo.config.chunker)) rep.repository = compareWithRepo(repo, t, rows.length);
    return rep;
  });
  return {
    paths: roots.map((r) => r.path),
    files,
    bytesRead,
    compressionLevel: level,
    workers: run.workers,
    settings: reports,
    warnings,
  };
}

/** Chunks (keyed ids) the repository's index lacks are what a backup would store; each counts for the first PATH holding it. */
function compareWithRepo(
  repo: AnalyzeRepo,
  t: { size: number; keys: string[]; raw: number[]; stored: number[]; snap: number[] },
  paths: number,
): RepoComparison {
  const c: RepoComparison = {
    repository: repo.id,
    knownChunks: 0,
    addedChunks: 0,
    addedBytes: 0,
    addedStoredBytes: 0,
    snapshots: [],
  };
  for (let k = 0; k < paths; k++) c.snapshots.push({ addedChunks: 0, addedBytes: 0, addedStoredBytes: 0 });
  for (let i = 0; i < t.size; i++) {
    if (repo.index.has('data', Buffer.from(t.keys[i], 'latin1'))) {
      c.knownChunks++;
      continue;
    }
    for (const a of [c, c.snapshots[t.snap[i]]]) {
      a.addedChunks++;
      a.addedBytes += t.raw[i];
      a.addedStoredBytes += t.stored[i];
    }
  }
  return c;
}
