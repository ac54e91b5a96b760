#!/usr/bin/env node
// Benchmark harness: repo vs restic vs borg. See bench/README.md. Plain Node ESM, no build step
// (it runs the built CLI, dist/bundle/repo.js: `npm run bench` builds first).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, USAGE } from './lib/options.mjs';
import { setupTimeMethod } from './lib/proc.mjs';
import { canDropCaches, freeBytes, machineInfo } from './lib/system.mjs';
import { setupTools } from './lib/tools.mjs';
import { runDataset } from './lib/dataset-run.mjs';
import { datasetTable, evaluateTargets, targetsText } from './lib/report.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const projectRoot = dirname(benchDir);
const log = (s = '') => console.log(s);

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }

  const started = new Date();
  const ts = started
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const resultsDir = join(benchDir, 'results');
  const resultFile = join(resultsDir, `${ts}.json`);
  const profilesDir = join(resultsDir, 'profiles', ts);
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(opts.cache, { recursive: true });
  const logsDir = join(opts.cache, 'logs', ts);
  mkdirSync(logsDir, { recursive: true });
  const scratchRoot = join(opts.cache, `scratch-${ts}`);

  log(`repo benchmark ${ts}${opts.quick ? ' (quick)' : ''}`);
  const machine = machineInfo();
  log(`machine: ${machine.cpus}× ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.os}, node ${machine.node}`);
  log(`cache: ${opts.cache} (${(freeBytes(opts.cache) / 2 ** 30).toFixed(1)} GiB free); logs: ${logsDir}`);

  // Node reads and parses NODE_EXTRA_CA_CERTS at every process start, before any of repo's code runs
  // (measured on this machine with Debian's 146-certificate bundle: node -e 0 0.09-0.11 s against 0.05-0.06 s,
  // +2 MiB RSS; worker threads do not pay it). Sandboxes set it for every process; a backup host
  // rarely does, and restic and borg never read it, so the measured commands run without it.
  const unsetEnv = ['NODE_EXTRA_CA_CERTS'].filter((name) => process.env[name] !== undefined);
  for (const name of unsetEnv) delete process.env[name];
  if (unsetEnv.length) log(`environment: ${unsetEnv.join(', ')} unset for the measured commands (see bench/README.md)`);

  const timeMethod = await setupTimeMethod(log);
  const dropOk = canDropCaches();
  log(`measuring with: ${timeMethod}; cache states: ${opts.cacheStates.join(', ')}`);
  if (opts.cacheStates.includes('cold')) {
    log(
      `  cold: page cache dropped before each backup/snapshots/restore/check command: ${dropOk ? 'yes' : 'NO (not permitted: the "cold" figures are not cold)'}`,
    );
  }
  if (opts.cacheStates.includes('warm')) {
    log(
      `  warm: repository and tool cache read into the page cache before each such command${opts.cacheStates.length === 2 ? '; warm backups go to a second repository per tool, each right after its cold twin' : ''}`,
    );
  }

  const tools = await setupTools(opts.tools, { projectRoot, log });
  log('tools:');
  for (const t of opts.tools) {
    const x = tools[t];
    if (!x.available) log(`  ${t.padEnd(6)} SKIPPED: ${x.skipReason}`);
    else
      log(
        `  ${t.padEnd(6)} ${x.version}; compression ${x.compression}${t === 'repo' && !x.hasCheck ? '; no check command yet (N/A)' : ''}`,
      );
  }
  if (opts.profile) log(`profiling repo's steps into ${relative(process.cwd(), profilesDir) || profilesDir}`);

  const result = {
    timestamp: started.toISOString(),
    argv: process.argv.slice(2),
    options: { ...opts, datasets: opts.datasets.map((d) => d.name) },
    machine,
    unsetEnv,
    timeMethod,
    dropCaches: dropOk,
    cacheStates: opts.cacheStates,
    tools: Object.fromEntries(
      opts.tools.map((t) => {
        const x = tools[t];
        return [
          t,
          {
            available: x.available,
            version: x.version,
            compression: x.compression,
            hasCheck: x.hasCheck,
            skipReason: x.skipReason,
          },
        ];
      }),
    ),
    datasets: [],
  };
  const save = () => writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);

  let interrupted = false;
  const onSig = () => {
    interrupted = true;
    rmSync(scratchRoot, { recursive: true, force: true });
    process.exit(130);
  };
  if (!opts.keep) process.once('SIGINT', onSig);

  for (const mod of opts.datasets) {
    if (interrupted) break;
    const ds = await runDataset(mod, { opts, tools, log, logsDir, profilesDir, scratchRoot, projectRoot, dropOk });
    result.datasets.push(ds);
    save();
  }
  if (!opts.keep) rmSync(scratchRoot, { recursive: true, force: true });

  // report
  const shown = opts.tools.filter((t) => tools[t].available);
  log('\n==================== results ====================');
  log(
    `(s = wall seconds, cpu = user+sys seconds, MiB/s = source bytes (backup, restore) or repository bytes (check) per wall second,`,
  );
  log(
    ` RSS = peak resident set; "vs X" = X's time ÷ repo's time (>1: repo faster); "RSS÷X" = repo's peak RSS ÷ X's (<1: repo smaller);`,
  );
  log(` cache: cold = page cache dropped before the command, warm = what it reads already cached;`);
  log(` "!" = finished with a warning exit code; MISMATCH = restored tree differs from the source)`);
  for (const ds of result.datasets) {
    log(`\n--- ${ds.letter}) ${ds.name}${ds.description ? `: ${ds.description}` : ''}`);
    if (ds.status === 'skipped') {
      log(`    skipped: ${ds.skipReason}`);
      continue;
    }
    if (ds.status === 'error') log(`    ERROR: ${ds.error.split('\n')[0]}`);
    const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    log(
      `    ${ds.states.length} versions; logical ${mib(ds.logicalBytes ?? 0)} (each version once; ${mib(ds.snapshotBytes ?? 0)} over all snapshots)`,
    );
    log(datasetTable(ds, shown));
    if (ds.profiles) {
      log('\n  repo CPU profile, top self time per step:');
      for (const [k, p] of Object.entries(ds.profiles)) {
        const th = p.threads
          .map((x) => `${x.thread} ${(x.busyMs / 1000).toFixed(1)} s busy/${(x.idleMs / 1000).toFixed(1)} s idle`)
          .join(', ');
        log(`    ${k}: ${th} (idle = waiting for I/O, the thread pool or other threads); share of busy time:`);
        for (const x of p.top.slice(0, 5)) log(`      ${String(x.pct).padStart(5)} %  ${x.fn}`);
      }
    }
  }
  result.targets = evaluateTargets(result.datasets);
  save();
  log('\ntargets for repo:');
  log(targetsText(result.targets));
  log(`\nresults: ${relative(process.cwd(), resultFile) || resultFile}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e.stack ?? e);
    process.exit(1);
  },
);
