// Runs every step for one dataset with every tool, interleaving the tools step by step (so each
// tool backs up exactly the same source state, and a change is applied once for all tools).
//
// Page cache states (--cache-state): a "cold" run starts right after `sync; echo 3 >
// /proc/sys/vm/drop_caches` (when permitted); a "warm" run starts with everything it reads already
// cached. With both, every backup step runs twice per tool: cold into the tool's main repository,
// then right after, warm into a second repository (the "warm lineage", initialised at the same
// time and backed up through the same sequence of source states, so its warm "first backup" is
// a real first backup and its warm "backup after change" a real backup after that change). The
// read-only steps (snapshots, restore, check) run cold then warm on the main repository, a warm
// restore into a fresh target. Before every warm run the repository and the tool's cache dir
// are read once (with O_NOATIME) so they are cached however long ago they were written; the
// source is cached by the cold run just before (or, warm only, by being written just before).

import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  atimePolicy,
  dropCaches,
  du,
  duEntries,
  duGrowth,
  fileTimes,
  freeBytes,
  readEveryFile,
  treeStats,
} from './system.mjs';
import { measure, sh } from './proc.mjs';
import { isWarningExit } from './tools.mjs';
import { compareTrees } from './verify.mjs';
import { summarizeProfiles } from './profile.mjs';
import { STEPS, fmtBytes, rowKeys } from './report.mjs';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const STEP_LABEL = Object.fromEntries(STEPS.map(([k, l]) => [k, l]));
const VERSION_RUNS = 3;

/** The environment handed to every tool: ours minus any repository/password settings of the user. */
function baseEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(REPO_|RESTIC_|BORG_)/.test(k)) delete env[k];
  return env;
}

function fmtStep(tool, label, r) {
  const parts = [`  ${tool.padEnd(6)} ${label.padEnd(43)}`];
  if (r.status === 'n/a' || r.status === 'skipped')
    return `${parts[0]} ${r.status.toUpperCase()}${r.note ? ` (${r.note})` : ''}`;
  parts.push(`${r.wall.toFixed(2).padStart(8)} s`);
  if (r.cpu != null) parts.push(`cpu ${r.cpu.toFixed(2).padStart(7)} s`);
  if (r.bytes != null && r.wall > 0) parts.push(`${(r.bytes / MiB / r.wall).toFixed(1).padStart(7)} MiB/s`);
  if (r.rssMiB != null) parts.push(`RSS ${r.rssMiB.toFixed(0).padStart(5)} MiB`);
  if (r.repoGrowth) parts.push(`repo ${fmtBytes(r.repoGrowth.bytes, true)}`);
  if (r.status !== 'ok') parts.push(r.status === 'warn' ? `WARNING exit ${r.code}` : `FAILED exit ${r.code}`);
  return parts.join('  ');
}

/** The run with the median wall time among those that did not fail (each run is kept under `runs`). */
function medianRun(rs) {
  const ok = rs.filter((r) => r.status !== 'fail');
  const med = ok.length ? [...ok].sort((a, b) => a.wall - b.wall)[Math.floor((ok.length - 1) / 2)] : rs[0];
  return { ...med, runs: rs };
}

const sumOrNull = (rs, k) => (rs.every((r) => r[k] != null) ? rs.reduce((a, r) => a + r[k], 0) : null);

/** One result standing for several runs of a step (the changes of a dataset): sums, max RSS, worst status. */
function aggregate(rs) {
  const worst =
    rs.find((r) => r.status === 'fail') ??
    rs.find((r) => r.status === 'warn') ??
    rs.find((r) => r.status === 'skipped') ??
    rs[0];
  if (worst.status === 'skipped' || worst.status === 'n/a') return { ...worst };
  let growth = null;
  if (rs.every((r) => r.repoGrowth)) {
    growth = { bytes: 0, entries: {} };
    for (const r of rs) {
      growth.bytes += r.repoGrowth.bytes;
      for (const [k, v] of Object.entries(r.repoGrowth.entries)) growth.entries[k] = (growth.entries[k] ?? 0) + v;
    }
  }
  return {
    status: worst.status,
    code: worst.code,
    wall: sumOrNull(rs, 'wall'),
    user: sumOrNull(rs, 'user'),
    sys: sumOrNull(rs, 'sys'),
    cpu: sumOrNull(rs, 'cpu'),
    rssMiB: rs.some((r) => r.rssMiB != null) ? Math.max(...rs.map((r) => r.rssMiB ?? 0)) : null,
    bytes: sumOrNull(rs, 'bytes'),
    repoGrowth: growth,
    runs: rs.length > 1 ? rs : undefined,
    errTail: worst.errTail,
    log: worst.log,
  };
}

export async function runDataset(mod, ctx) {
  const { opts, tools, log, logsDir, profilesDir, scratchRoot, projectRoot, dropOk } = ctx;
  const states = opts.cacheStates;
  const ds = {
    name: mod.name,
    letter: mod.letter,
    status: 'done',
    states: [],
    tools: {},
    dropCaches: dropOk,
    cacheStates: states,
  };
  log(`\n=== dataset ${mod.letter}) ${mod.name} ===`);
  ds.loadAvgAtStart = loadavg()[0];
  log(
    `  load average ${ds.loadAvgAtStart.toFixed(2)} (1 min; includes this harness's previous work: other work on this machine disturbs the numbers)`,
  );

  const free = freeBytes(opts.cache);
  const needFree = mod.big && !opts.quick ? 20 * GiB : 3 * GiB;
  ds.freeBytesAtStart = free;
  if (free < needFree) {
    ds.status = 'skipped';
    ds.skipReason = `only ${(free / GiB).toFixed(1)} GiB free under ${opts.cache}; ${mod.name} needs ${needFree / GiB} GiB`;
    log(`  skipped: ${ds.skipReason}`);
    return ds;
  }

  let prep;
  try {
    prep = await mod.prepare({ cache: opts.cache, quick: opts.quick, log });
  } catch (e) {
    ds.status = 'skipped';
    ds.skipReason = `preparing the dataset failed: ${e.message}`;
    log(`  skipped: ${ds.skipReason}`);
    return ds;
  }
  if (prep.skip) {
    ds.status = 'skipped';
    ds.skipReason = prep.skip;
    log(`  skipped: ${prep.skip}`);
    return ds;
  }
  ds.description = prep.description;
  ds.params = prep.params;
  log(`  ${prep.description}`);

  const active = opts.tools.filter((t) => tools[t]?.available);
  const dir = join(scratchRoot, mod.name);
  const work = join(dir, 'work', mod.name); // the backed-up path, the same for every backup
  // lineages: 'main' = the dataset repository of each tool (sizes, snapshots, restore and check run
  // on it); 'warm' = the second repository that takes the warm backups when both states are run
  const lineageOf = Object.fromEntries(states.map((s) => [s, states.length === 2 && s === 'warm' ? 'warm' : 'main']));
  const lineages = [...new Set(Object.values(lineageOf))];
  const repoDir = (t, lin = 'main') => join(dir, lin === 'main' ? 'repos' : 'repos-warm', t);
  const toolScratch = (t, lin = 'main') => join(dir, lin === 'main' ? 'tool-cache' : 'tool-cache-warm', t);
  const env = baseEnv();
  const archives = {}; // borg archive numbers per tool and lineage
  const broken = new Set(); // `${tool}/${lineage}` whose init failed
  ds.profileKeys = [];

  for (const t of opts.tools) {
    ds.tools[t] = { steps: {} };
    if (!tools[t]?.available) ds.tools[t].skipReason = tools[t]?.skipReason ?? 'not available';
  }

  const run = async (t, key, spec, { bytes = null, lin = 'main' } = {}) => {
    const logBase = join(logsDir, `${mod.name}-${t}-${key}`);
    const m = await measure(spec.cmd, spec.args, {
      env: { ...env, ...tools[t].env(toolScratch(t, lin)) },
      cwd: spec.cwd,
      logBase,
    });
    const status = m.code === 0 ? 'ok' : isWarningExit(t, m.code) ? 'warn' : 'fail';
    const r = {
      status,
      code: m.code,
      wall: m.wall,
      user: m.user,
      sys: m.sys,
      cpu: m.cpu,
      rssMiB: m.rssMiB,
      bytes,
      log: logBase,
    };
    if (m.errTail) r.errTail = m.errTail;
    return r;
  };
  /** Puts the page cache in `state` for a run of tool t on lineage lin's repository. */
  const setCache = async (t, state, lin) => {
    if (state === 'cold') {
      if (dropOk) dropCaches();
      return;
    }
    sh('sync', []); // the cold run's writes are not charged to the warm one
    await readEveryFile([repoDir(t, lin), toolScratch(t, lin)], { noatime: true });
  };
  const show = (t, label, r) => {
    log(fmtStep(t, label, r));
    if (r.status === 'fail' && r.errTail) log(r.errTail.replace(/^/gm, '           | '));
  };
  const prof = (t, key) => {
    if (!(opts.profile && t === 'repo')) return undefined;
    if (!ds.profileKeys.includes(key)) ds.profileKeys.push(key);
    return { profileDir: join(profilesDir, mod.name, key) };
  };
  const live = () => active.filter((t) => !broken.has(`${t}/main`));
  const nextArchive = (t, lin) => {
    const k = `${t}/${lin}`;
    archives[k] = (archives[k] ?? 0) + 1;
    return `b${archives[k]}`;
  };

  /**
   * One backup of `work` per tool and cache state (cold into the main lineage, warm into the warm
   * one, each tool's cold run right before its warm run), with what each repository grew by.
   * Returns { tool: { state: result } }.
   */
  const backupStep = async (key, bytes, { suffix = '', label = STEP_LABEL[key] } = {}) => {
    const out = {};
    for (const t of live()) {
      out[t] = {};
      for (const state of states) {
        const lin = lineageOf[state];
        if (broken.has(`${t}/${lin}`)) {
          out[t][state] = { status: 'skipped', note: `init of the ${lin} repository failed` };
          show(t, `${label} (${state})`, out[t][state]);
          continue;
        }
        const rd = repoDir(t, lin);
        const before = duEntries(rd);
        await setCache(t, state, lin);
        const k = `${key}${suffix}.${state}`;
        const r = await run(t, k, tools[t].backup(rd, work, nextArchive(t, lin), prof(t, k)), { bytes, lin });
        r.repoGrowth = duGrowth(before, duEntries(rd));
        out[t][state] = r;
        show(t, `${label} (${state})`, r);
      }
    }
    return out;
  };
  const store = (key, res) => {
    for (const [t, byState] of Object.entries(res))
      for (const [s, r] of Object.entries(byState)) ds.tools[t].steps[`${key}.${s}`] = r;
  };

  try {
    mkdirSync(work, { recursive: true });
    for (const t of active) {
      for (const lin of lineages) {
        mkdirSync(toolScratch(t, lin), { recursive: true });
        mkdirSync(join(repoDir(t, lin), '..'), { recursive: true });
      }
    }

    // v1
    await prep.setup(work);
    ds.states.push({ label: prep.v1Label, ...(await treeStats(work)) });
    log(`  v1: ${prep.v1Label}: ${ds.states[0].files} files, ${(ds.states[0].bytes / MiB).toFixed(1)} MiB`);
    log(
      `  cache states: ${states.join(', ')}${states.includes('cold') && !dropOk ? ' (cold: NOT cold, dropping the page cache is not permitted here)' : ''}`,
    );

    // version: no repository, page cache as it is; the median of a few runs
    for (const t of active) {
      const rs = [];
      for (let i = 0; i < VERSION_RUNS; i++) rs.push(await run(t, `version-${i + 1}`, tools[t].versionCmd()));
      const r = medianRun(rs);
      ds.tools[t].steps.version = r;
      show(t, `version (median of ${VERSION_RUNS})`, r);
    }

    // init (the warm lineage's repository is initialised too, not shown)
    for (const t of active) {
      const r = await run(t, 'init', tools[t].init(repoDir(t), prof(t, 'init')));
      ds.tools[t].steps.init = r;
      show(t, 'init', r);
      if (r.status === 'fail') broken.add(`${t}/main`);
      if (lineages.includes('warm')) {
        const w = await run(t, 'init-warm-repository', tools[t].init(repoDir(t, 'warm')), { lin: 'warm' });
        ds.tools[t].warmRepository = { init: w };
        if (w.status === 'fail') {
          broken.add(`${t}/warm`);
          show(t, 'init (warm repository)', w);
        }
      }
    }

    // first backup and unchanged re-backup of v1
    store('backup1', await backupStep('backup1', ds.states[0].bytes));
    store('rebackup', await backupStep('rebackup', ds.states[0].bytes));

    // read every file (plain reads, so atimes move), then back up again
    {
      const before = await fileTimes(work);
      const nowNs = BigInt(Date.now()) * 1000000n;
      // relatime updates an atime on read only when it is <= mtime or <= ctime, or a day old
      let eligible = 0;
      for (const x of before.values())
        if (x.atime <= x.mtime || x.atime <= x.ctime || nowNs - x.atime > 86400n * 1000000000n) eligible++;
      const rd = await readEveryFile([work]);
      const after = await fileTimes(work);
      let moved = 0;
      for (const [f, x] of after) if (before.has(f) && x.atime > before.get(f).atime) moved++;
      const pol = atimePolicy(work);
      ds.readEveryFile = {
        files: rd.files,
        bytes: rd.bytes,
        seconds: rd.seconds,
        atimeMoved: moved,
        atimeEligible: eligible,
        mount: pol,
      };
      log(
        `  read every file of the working dir (plain reads): ${rd.files} files, ${(rd.bytes / MiB).toFixed(1)} MiB in ${rd.seconds.toFixed(1)} s; ` +
          `atime moved on ${moved} of ${before.size} files (mounted ${pol.policy ?? '?'}${pol.policy === 'relatime' ? `; ${eligible} had atime <= mtime/ctime or a day old` : ''})`,
      );
      if (moved < before.size) {
        log(
          `  NOTE: ${before.size - moved} files kept their atime (relatime: only an atime <= mtime or ctime, or older than a day, is updated by a read), so this step tests less than intended`,
        );
      }
      store('readback', await backupStep('readback', ds.states[0].bytes));
    }

    // backups after each change
    const runs = {}; // tool -> state -> results
    for (const [i, ch] of prep.changes.entries()) {
      await ch.apply(work);
      const st = { label: ch.label, ...(await treeStats(work)) };
      ds.states.push(st);
      const suffix = prep.changes.length > 1 ? `-${i + 1}` : '';
      log(
        `  change ${i + 1}/${prep.changes.length}: ${ch.label}: ${st.files} files, ${(st.bytes / MiB).toFixed(1)} MiB`,
      );
      const res = await backupStep('backup2', st.bytes, {
        suffix,
        label: prep.changes.length > 1 ? `backup after change ${i + 1}` : STEP_LABEL.backup2,
      });
      for (const [t, byState] of Object.entries(res)) {
        for (const [s, r] of Object.entries(byState)) {
          r.label = ch.label;
          ((runs[t] ??= {})[s] ??= []).push(r);
        }
      }
    }
    for (const [t, byState] of Object.entries(runs))
      for (const [s, rs] of Object.entries(byState)) ds.tools[t].steps[`backup2.${s}`] = aggregate(rs);

    // repository sizes after all versions (main lineage: every version backed up once, plus the
    // two re-backups of v1)
    const logical = ds.states.reduce((a, s) => a + s.bytes, 0);
    ds.logicalBytes = logical; // every distinct version once
    ds.snapshotBytes = logical + 2 * ds.states[0].bytes; // every snapshot of the main repository
    for (const t of live()) {
      const d = du(repoDir(t));
      ds.tools[t].repoBytes = d.apparent;
      ds.tools[t].repoBytesAllocated = d.allocated;
      ds.tools[t].dedupe = d.apparent ? logical / d.apparent : null;
      ds.tools[t].toolCacheBytes = du(toolScratch(t)).apparent;
      if (lineages.includes('warm') && !broken.has(`${t}/warm`)) {
        ds.tools[t].warmRepository.repoBytes = du(repoDir(t, 'warm')).apparent;
        ds.tools[t].warmRepository.toolCacheBytes = du(toolScratch(t, 'warm')).apparent;
      }
    }
    if (lineages.includes('warm') && !opts.keep) {
      // done with the warm lineage; free its disk space for the restores
      rmSync(join(dir, 'repos-warm'), { recursive: true, force: true });
      rmSync(join(dir, 'tool-cache-warm'), { recursive: true, force: true });
    }

    // The read-only steps on the main repository: every tool cold, then every tool warm. Cold runs are
    // repeated (--cold-runs) with the tools' order rotated, so that each tool is once the first after
    // whatever ran before (the backups' writes and deletions cost the first one more: bench/README.md),
    // and the median counts.
    const readOnlyStep = async (key, makeSpec, { bytes = null, after } = {}) => {
      for (const state of states) {
        const runs = state === 'cold' ? opts.coldRuns : 1;
        const got = new Map(live().map((t) => [t, []]));
        for (let i = 0; i < runs; i++) {
          const order = live().map((_, j, a) => a[(i + j) % a.length]);
          for (const t of order) {
            const label = `${STEP_LABEL[key]} (${state}${runs > 1 ? `, run ${i + 1} of ${runs}` : ''})`;
            const pre = makeSpec(t, state);
            if (pre.result) {
              if (i === 0) {
                got.get(t).push(pre.result);
                show(t, label, pre.result);
              }
              continue;
            }
            await setCache(t, state, 'main');
            const k = `${key}.${state}${i > 0 ? `-${i + 1}` : ''}`;
            const spec = pre.spec(i === 0 ? prof(t, k) : undefined);
            const r = await run(t, k, spec, { bytes: typeof bytes === 'function' ? bytes(t) : bytes });
            got.get(t).push(r);
            show(t, label, r);
            if (after) await after(t, state, r);
          }
        }
        for (const [t, rs] of got) {
          const r = rs.length > 1 ? medianRun(rs) : rs[0];
          ds.tools[t].steps[`${key}.${state}`] = r;
          if (rs.length > 1) show(t, `${STEP_LABEL[key]} (${state}, median of ${rs.length})`, r);
        }
      }
    };

    await readOnlyStep('snapshots', (t) => ({ spec: (o) => tools[t].snapshots(repoDir(t), o) }));

    // restore latest + verify, each state into a fresh target
    const current = ds.states[ds.states.length - 1];
    const target = (t, state) => join(dir, 'restore', `${t}-${state}`);
    await readOnlyStep(
      'restore',
      (t, state) => {
        rmSync(target(t, state), { recursive: true, force: true });
        mkdirSync(target(t, state), { recursive: true });
        return { spec: (o) => tools[t].restore(repoDir(t), target(t, state), `b${archives[`${t}/main`]}`, o) };
      },
      {
        bytes: current.bytes,
        after: async (t, state, r) => {
          const root = tools[t].restoredRoot(target(t, state), work);
          if (r.status !== 'fail') {
            r.verify = await compareTrees(work, root);
            if (!r.verify.ok) r.verify.restoredRoot = root;
            log(
              `         restore verified: ${r.verify.ok ? `ok (${r.verify.files} files, ${(r.verify.bytes / MiB).toFixed(1)} MiB)` : `MISMATCH (${r.verify.mismatchCount}): ${r.verify.mismatches.slice(0, 5).join('; ')}`}`,
            );
          }
          if (!opts.keep) rmSync(target(t, state), { recursive: true, force: true });
        },
      },
    );

    // check --read-data
    await readOnlyStep(
      'check',
      (t) =>
        t === 'repo' && !tools[t].hasCheck
          ? { result: { status: 'n/a', note: 'repo has no check command yet' } }
          : { spec: (o) => tools[t].check(repoDir(t), o) },
      { bytes: (t) => ds.tools[t].repoBytes },
    );

    for (const t of active.filter((x) => broken.has(`${x}/main`))) {
      for (const k of rowKeys(ds)) ds.tools[t].steps[k] ??= { status: 'skipped', note: 'init failed' };
    }

    if (opts.profile && tools.repo?.available) {
      ds.profiles = {};
      for (const key of ds.profileKeys) {
        const s = summarizeProfiles(join(profilesDir, mod.name, key), projectRoot);
        if (s) ds.profiles[key] = s;
      }
    }
  } catch (e) {
    ds.status = 'error';
    ds.error = e.stack ?? String(e);
    log(`  dataset ${mod.name} aborted: ${e.message}`);
  } finally {
    if (opts.keep)
      log(`  kept: ${dir} (work dir, repos/${lineages.includes('warm') ? ', repos-warm/' : ''}, restore/)`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return ds;
}
