// Command-line options of bench/run.mjs.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_TOOLS } from './tools.mjs';
import { DATASETS, QUICK_DEFAULT, resolveDatasets } from './datasets/index.mjs';

export const USAGE = `Usage: node bench/run.mjs [options]     (or: npm run bench -- [options])

Benchmarks repo against restic and borg on several datasets: init, first backup, unchanged
re-backup, backup after a change, full restore (verified byte for byte), check --read-data;
wall time, CPU time, peak RSS, repository size and dedupe ratio.

Options:
  --quick             small datasets only (versions: 3 prettier releases, random: 128 MiB); a few minutes
  --datasets LIST     comma-separated: versions (a), kernel (b), random (c), pgdump (d)
                      (default: all; with --quick: ${QUICK_DEFAULT.join(',')}; naming kernel/pgdump with
                      --quick uses their small variants)
  --tools LIST        comma-separated subset of ${ALL_TOOLS.join(',')} (default: all)
  --cache DIR         where datasets, scratch repositories and logs live
                      (default: $XDG_CACHE_HOME/repo-bench or ~/.cache/repo-bench)
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
  const datasets = values.datasets ? resolveDatasets(list(values.datasets)) : values.quick ? resolveDatasets(QUICK_DEFAULT) : DATASETS;
  const tools = values.tools ? list(values.tools) : ALL_TOOLS;
  for (const t of tools) if (!ALL_TOOLS.includes(t)) throw new Error(`unknown tool "${t}" (known: ${ALL_TOOLS.join(', ')})`);
  const cacheBase = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return {
    help: values.help,
    quick: values.quick,
    datasets,
    tools: ALL_TOOLS.filter((t) => tools.includes(t)), // fixed column order
    cache: resolve(values.cache ?? join(cacheBase, 'repo-bench')),
    keep: values.keep,
    profile: values.profile,
  };
}
