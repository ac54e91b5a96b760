// Command-line options of bench/run.mjs.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_TOOLS } from './tools.mjs';
import { DATASETS, QUICK_DEFAULT, resolveDatasets } from './datasets/index.mjs';

export const USAGE = `Usage: node bench/run.mjs [options]     (or: npm run bench -- [options])

Benchmarks repo against restic and borg on several datasets: init, first backup, unchanged
re-backup, re-backup after reading every file, backup after a change, listing snapshots, full
restore (verified byte for byte), check --read-data, and the version command; wall time, CPU
time, peak RSS, what each backup added to the repository, repository size and dedupe ratio.

Options:
  --quick             small datasets only (versions: 3 prettier releases, random: 128 MiB); a few minutes
  --datasets LIST     comma-separated: versions (a), kernel (b), random (c), pgdump (d)
                      (default: all; with --quick: ${QUICK_DEFAULT.join(',')}; naming kernel/pgdump with
                      --quick uses their small variants)
  --tools LIST        comma-separated subset of ${ALL_TOOLS.join(',')} (default: all)
  --cache DIR         where datasets, scratch repositories and logs live
                      (default: $XDG_CACHE_HOME/repo-bench or ~/.cache/repo-bench)
  --cache-state S     cold, warm or both (default: both): run each backup, snapshots, restore and
                      check step with a cold page cache (dropped first, when permitted), a warm one
                      (everything it reads already cached), or both; see bench/README.md
  --cold-runs N       runs of each cold snapshots, restore and check step per tool, the tools' order
                      rotated from run to run; the median counts (default 3; 1 = one run, repo first)
  --keep              keep repositories, restores and working dirs for inspection
  --profile           run repo's steps under node --cpu-prof (profiles in bench/results/profiles/)
  -h, --help          this text
`;

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      datasets: { type: 'string' },
      tools: { type: 'string' },
      cache: { type: 'string' },
      'cache-state': { type: 'string', default: 'both' },
      'cold-runs': { type: 'string', default: '3' },
      keep: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  });
  const list = (s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const datasets = values.datasets
    ? resolveDatasets(list(values.datasets))
    : values.quick
      ? resolveDatasets(QUICK_DEFAULT)
      : DATASETS;
  const tools = values.tools ? list(values.tools) : ALL_TOOLS;
  for (const t of tools)
    if (!ALL_TOOLS.includes(t)) throw new Error(`unknown tool "${t}" (known: ${ALL_TOOLS.join(', ')})`);
  const cacheState = values['cache-state'];
  if (!['cold', 'warm', 'both'].includes(cacheState))
    throw new Error(`--cache-state must be cold, warm or both (got "${cacheState}")`);
  const coldRuns = Number(values['cold-runs']);
  if (!Number.isInteger(coldRuns) || coldRuns < 1 || coldRuns > 9)
    throw new Error(`--cold-runs must be a whole number from 1 to 9 (got "${values['cold-runs']}")`);
  const cacheBase = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return {
    help: values.help,
    quick: values.quick,
    datasets,
    tools: ALL_TOOLS.filter((t) => tools.includes(t)), // fixed column order
    cache: resolve(values.cache ?? join(cacheBase, 'repo-bench')),
    cacheState,
    cacheStates: cacheState === 'both' ? ['cold', 'warm'] : [cacheState],
    coldRuns,
    keep: values.keep,
    profile: values.profile,
  };
}
