// `repo analyze PATH...`: estimates chunk counts, dedupe, compressed size and index memory under chunker settings, reading the data once.
// Writes nothing; with -r/--repo it also opens the repository (shared lock) to estimate what a backup into it would add.

import type { Command } from 'commander';
import {
  analyzePaths,
  CHUNKER_SWEEP,
  type AnalyzeOptions,
  type AnalyzeReport,
  type AnalyzeSettingReport,
} from '../analyze/index.js';
import type { ChunkerParams } from '../chunker/chunker.js';
import { errorMessage, RepoError } from '../core/errors.js';
import { shortId } from '../core/id.js';
import { recordAnalysis } from '../ops/analyses.js';
import { compressionLevel } from '../repository/compression.js';
import { Env, withRepository } from './context.js';
import { formatBytes, renderTable } from './format.js';
import { collect, parseChunker } from './parse.js';

interface AnalyzeFlags {
  chunker?: string[];
  chunkerSweep?: boolean;
  compression?: string;
  csv?: boolean;
  workers?: string;
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('estimate dedupe, compression and index size of some data under chunker settings (writes nothing)')
    .argument(
      '<paths...>',
      'files or directories; several are analysed as successive backups (each row shows what it adds)',
    )
    .option('--chunker <min/avg/max>', 'a chunker setting to evaluate, e.g. 512K/1M/8M (repeatable)', collect)
    .option('--chunker-sweep', `evaluate a built-in list of ${CHUNKER_SWEEP.length} settings`)
    .option(
      '--compression <mode>',
      "compression to estimate: auto, off, max or a zstd level 1-22 (default: the repository's, else auto)",
    )
    .option('--csv', 'print CSV instead of a table')
    .option('--workers <n>', 'worker threads (default: one per core, at most 8)')
    .addHelpText(
      'after',
      "\nWith -r/--repo, the repository's own chunker is always evaluated and compared with its index: what a backup would add.",
    )
    .action((paths: string[], flags: AnalyzeFlags, c: Command) => runAnalyze(Env.from(c), paths, flags));
}

function settingsFrom(flags: AnalyzeFlags): ChunkerParams[] {
  return [...(flags.chunker ?? []).map(parseChunker), ...(flags.chunkerSweep ? CHUNKER_SWEEP : [])];
}

async function runAnalyze(env: Env, paths: string[], flags: AnalyzeFlags): Promise<void> {
  const opts: AnalyzeOptions = { settings: settingsFrom(flags), signal: env.signal };
  if (flags.compression !== undefined) opts.compressionLevel = compressionLevel(flags.compression);
  if (flags.workers !== undefined) {
    if (!/^\d+$/.test(flags.workers))
      throw new RepoError('INVALID_ARGUMENT', `invalid --workers ${JSON.stringify(flags.workers)}`);
    opts.workers = Number(flags.workers);
  }
  if (env.out.progress) {
    let last = 0;
    opts.onProgress = (p) => {
      if (Date.now() - last < 250 && p.filesDone < p.filesTotal) return;
      last = Date.now();
      process.stderr.write(
        `\ranalysed ${p.filesDone}/${p.filesTotal} files, ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}\x1b[K`,
      );
    };
  }
  // Only an explicit -r/--repo compares: REPO_REPOSITORY alone must not make a dry analysis ask for a password.
  let repositoryId: string | undefined;
  const report =
    env.globals.repo === undefined
      ? await analyzePaths(paths, opts)
      : await withRepository(env, { workers: 0 }, (repo) => {
          repositoryId = repo.id;
          return analyzePaths(paths, { ...opts, repo });
        });
  if (env.out.progress) process.stderr.write('\r\x1b[K');
  // Kept in the local state directory for `repo ui` and `repo report` (dedupe of runs compared); losing it is harmless.
  await recordAnalysis({
    time: new Date().toISOString(),
    repository: repositoryId,
    analysis: analyzeJson(report),
  }).catch((err: unknown) => env.out.warn(`could not store this analysis for repo ui: ${errorMessage(err)}`));
  for (const w of report.warnings) env.out.warn(`${w.path}: ${w.message}`);
  if (env.out.json) env.out.printJson(analyzeJson(report));
  else if (flags.csv) process.stdout.write(analyzeCsv(report));
  else printTables(env, report);
}

const snake = (o: object) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), v]));

export function analyzeJson(r: AnalyzeReport): Record<string, unknown> {
  return {
    message_type: 'analysis',
    ...snake({
      paths: r.paths,
      files: r.files,
      bytesRead: r.bytesRead,
      compressionLevel: r.compressionLevel,
      workers: r.workers,
    }),
    settings: r.settings.map((s) => {
      const { snapshots, repository, chunker, ...rest } = s;
      const o: Record<string, unknown> = {
        ...snake(rest),
        chunker: { min: chunker.min, avg: chunker.avg, max: chunker.max },
        snapshots: snapshots.map(snake),
      };
      if (repository) o.repository = { ...snake(repository), snapshots: repository.snapshots.map(snake) };
      return o;
    }),
    warnings: r.warnings,
  };
}

const CSV_HEADER = [
  'chunker',
  'min',
  'avg',
  'max',
  'scope',
  'path',
  'files',
  'bytes',
  'chunks',
  'unique_chunks',
  'unique_bytes',
  'dedupe_ratio',
  'stored_bytes',
  'index_bytes',
  'added_chunks',
  'added_bytes',
  'added_stored_bytes',
];

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One "total" row per setting, one "path" row per PATH, and with a repository one "repository" row per PATH (what a backup adds). */
export function analyzeCsv(r: AnalyzeReport): string {
  const lines = [CSV_HEADER.join(',')];
  for (const s of r.settings) {
    const head = [s.label, s.chunker.min, s.chunker.avg, s.chunker.max];
    const sum = (f: 'addedChunks' | 'addedBytes' | 'addedStoredBytes') => s.snapshots.reduce((n, x) => n + x[f], 0);
    lines.push(
      [
        ...head,
        'total',
        '',
        r.files,
        s.logicalBytes,
        s.chunks,
        s.uniqueChunks,
        s.uniqueBytes,
        s.dedupeRatio.toFixed(4),
        s.storedBytes,
        s.indexBytes,
        sum('addedChunks'),
        sum('addedBytes'),
        sum('addedStoredBytes'),
      ]
        .map(csvCell)
        .join(','),
    );
    for (const p of s.snapshots) {
      lines.push(
        [
          ...head,
          'path',
          p.path,
          p.files,
          p.bytes,
          p.chunks,
          '',
          '',
          '',
          '',
          '',
          p.addedChunks,
          p.addedBytes,
          p.addedStoredBytes,
        ]
          .map(csvCell)
          .join(','),
      );
    }
    s.repository?.snapshots.forEach((a, i) => {
      const p = s.snapshots[i];
      lines.push(
        [
          ...head,
          'repository',
          p.path,
          p.files,
          p.bytes,
          p.chunks,
          '',
          '',
          '',
          '',
          '',
          a.addedChunks,
          a.addedBytes,
          a.addedStoredBytes,
        ]
          .map(csvCell)
          .join(','),
      );
    });
  }
  return lines.join('\n') + '\n';
}

function printTables(env: Env, r: AnalyzeReport): void {
  const out = env.out;
  const x = (v: number) => `${v.toFixed(2)}x`;
  out.info(
    `analysed ${r.files} files, ${formatBytes(r.bytesRead)} read from ${r.paths.length} path${r.paths.length === 1 ? '' : 's'} (zstd level ${r.compressionLevel}, ${r.workers} worker threads)`,
  );
  out.info('');
  const rows = r.settings.map((s) => [
    s.label,
    String(s.chunks),
    formatBytes(Math.round(s.averageChunkSize)),
    String(s.uniqueChunks),
    formatBytes(s.uniqueBytes),
    x(s.dedupeRatio),
    formatBytes(s.storedBytes),
    formatBytes(s.indexBytes),
  ]);
  out.print(
    renderTable(
      ['Chunker', 'Chunks', 'Avg size', 'Unique', 'Unique bytes', 'Dedupe', 'Stored (est.)', 'Index RAM'],
      rows,
      [1, 2, 3, 4, 5, 6, 7],
    ),
  );
  if (r.paths.length > 1) {
    out.print('');
    out.print('What each path adds after the ones before it:');
    const per = r.settings.flatMap((s: AnalyzeSettingReport) =>
      s.snapshots.map((p) => [
        s.label,
        p.path,
        String(p.files),
        formatBytes(p.bytes),
        String(p.addedChunks),
        formatBytes(p.addedBytes),
        formatBytes(p.addedStoredBytes),
      ]),
    );
    out.print(
      renderTable(['Chunker', 'Path', 'Files', 'Size', 'New chunks', 'New bytes', 'New stored'], per, [2, 3, 4, 5, 6]),
    );
  }
  for (const s of r.settings) {
    const c = s.repository;
    if (!c) continue;
    out.print('');
    out.print(
      `Backing up into repository ${shortId(c.repository)} (chunker ${s.label}) would add ${c.addedChunks} data blobs, ${formatBytes(c.addedBytes)} raw, about ${formatBytes(c.addedStoredBytes)} stored (${c.knownChunks} chunks are already there).`,
    );
    if (r.paths.length > 1) {
      c.snapshots.forEach((a, i) =>
        out.print(
          `  ${s.snapshots[i].path}: ${a.addedChunks} blobs, ${formatBytes(a.addedBytes)} raw, ~${formatBytes(a.addedStoredBytes)} stored`,
        ),
      );
    }
  }
}
