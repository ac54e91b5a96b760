// Runs every step for one dataset with every tool, interleaving the tools step by step (so each
// tool backs up exactly the same source state, and a change is applied once for all tools).

import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { dropCaches, du, freeBytes, treeStats } from './system.mjs';
import { measure } from './proc.mjs';
import { isWarningExit } from './tools.mjs';
import { compareTrees } from './verify.mjs';
import { summarizeProfiles } from './profile.mjs';
import { STEPS } from './report.mjs';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const STEP_LABEL = Object.fromEntries(STEPS);

/** The environment handed to every tool: ours minus any repository/password settings of the user. */
function baseEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(REPO_|RESTIC_|BORG_)/.test(k)) delete env[k];
  return env;
}

function fmtStep(tool, label, r) {
  const parts = [`  ${tool.padEnd(6)} ${label.padEnd(30)}`];
  if (r.status === 'n/a' || r.status === 'skipped') return `${parts[0]} ${r.status.toUpperCase()}${r.note ? ` (${r.note})` : ''}`;
  parts.push(`${r.wall.toFixed(2).padStart(8)} s`);
  if (r.cpu != null) parts.push(`cpu ${r.cpu.toFixed(2).padStart(7)} s`);
  if (r.bytes != null && r.wall > 0) parts.push(`${(r.bytes / MiB / r.wall).toFixed(1).padStart(7)} MiB/s`);
  if (r.rssMiB != null) parts.push(`RSS ${r.rssMiB.toFixed(0).padStart(5)} MiB`);
  if (r.status !== 'ok') parts.push(r.status === 'warn' ? `WARNING exit ${r.code}` : `FAILED exit ${r.code}`);
  return parts.join('  ');
}

export async function runDataset(mod, ctx) {
  const { opts, tools, log, logsDir, profilesDir, scratchRoot, projectRoot, dropOk } = ctx;
  const ds = { name: mod.name, letter: mod.letter, status: 'done', states: [], tools: {}, dropCaches: dropOk };
  log(`\n=== dataset ${mod.letter}) ${mod.name} ===`);
  ds.loadAvgAtStart = loadavg()[0];
  log(`  load average ${ds.loadAvgAtStart.toFixed(2)} (1 min; includes this harness's previous work: other work on this machine disturbs the numbers)`);

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
  const repoDir = (t) => join(dir, 'repos', t);
  const toolScratch = (t) => join(dir, 'tool-cache', t);
  const env = baseEnv();
  const archives = {}; // borg archive names
  const broken = new Set(); // tools whose init failed

  for (const t of opts.tools) {
    ds.tools[t] = { steps: {} };
    if (!tools[t]?.available) ds.tools[t].skipReason = tools[t]?.skipReason ?? 'not available';
  }

  const run = async (t, key, spec, { bytes = null, drop = false, suffix = '' } = {}) => {
    if (drop && dropOk) dropCaches();
    const logBase = join(logsDir, `${mod.name}-${t}-${key}${suffix}`);
    const m = await measure(spec.cmd, spec.args, { env: { ...env, ...tools[t].env(toolScratch(t)) }, cwd: spec.cwd, logBase });
    const status = m.code === 0 ? 'ok' : isWarningExit(t, m.code) ? 'warn' : 'fail';
    const r = { status, code: m.code, wall: m.wall, user: m.user, sys: m.sys, cpu: m.cpu, rssMiB: m.rssMiB, bytes, log: logBase };
    if (m.errTail) r.errTail = m.errTail;
    return r;
  };
  const show = (t, key, r, label = STEP_LABEL[key]) => {
    log(fmtStep(t, label, r));
    if (r.status === 'fail' && r.errTail) log(r.errTail.replace(/^/gm, '           | '));
  };
  const prof = (t, key) => (opts.profile && t === 'repo' ? { profileDir: join(profilesDir, mod.name, key) } : undefined);

  try {
    mkdirSync(work, { recursive: true });
    for (const t of active) {
      mkdirSync(toolScratch(t), { recursive: true });
      mkdirSync(join(dir, 'repos'), { recursive: true });
    }

    // v1
    await prep.setup(work);
    ds.states.push({ label: prep.v1Label, ...(await treeStats(work)) });
    log(`  v1: ${prep.v1Label}: ${ds.states[0].files} files, ${(ds.states[0].bytes / MiB).toFixed(1)} MiB`);

    // init
    for (const t of active) {
      const r = await run(t, 'init', tools[t].init(repoDir(t), prof(t, 'init')));
      ds.tools[t].steps.init = r;
      show(t, 'init', r);
      if (r.status === 'fail') broken.add(t);
    }
    const live = () => active.filter((t) => !broken.has(t));
    const nextArchive = (t) => {
      archives[t] = (archives[t] ?? 0) + 1;
      return `b${archives[t]}`;
    };

    // first backup and unchanged re-backup of v1
    for (const key of ['backup1', 'rebackup']) {
      for (const t of live()) {
        const r = await run(t, key, tools[t].backup(repoDir(t), work, nextArchive(t), prof(t, key)), { bytes: ds.states[0].bytes, drop: true });
        ds.tools[t].steps[key] = r;
        show(t, key, r);
      }
    }

    // backups after each change
    const runs = Object.fromEntries(live().map((t) => [t, []]));
    for (const [i, ch] of prep.changes.entries()) {
      await ch.apply(work);
      const st = { label: ch.label, ...(await treeStats(work)) };
      ds.states.push(st);
      const suffix = prep.changes.length > 1 ? `-${i + 1}` : '';
      log(`  change ${i + 1}/${prep.changes.length}: ${ch.label}: ${st.files} files, ${(st.bytes / MiB).toFixed(1)} MiB`);
      for (const t of live()) {
        const key = 'backup2';
        const r = await run(t, key, tools[t].backup(repoDir(t), work, nextArchive(t), prof(t, `${key}${suffix}`)), { bytes: st.bytes, drop: true, suffix });
        r.label = ch.label;
        runs[t].push(r);
        show(t, key, r, prep.changes.length > 1 ? `backup after change ${i + 1}` : STEP_LABEL[key]);
      }
    }
    for (const t of live()) {
      const rs = runs[t];
      if (!rs.length) continue;
      const sum = (k) => (rs.every((r) => r[k] != null) ? rs.reduce((a, r) => a + r[k], 0) : null);
      const worst = rs.find((r) => r.status === 'fail') ?? rs.find((r) => r.status === 'warn') ?? rs[0];
      ds.tools[t].steps.backup2 = {
        status: worst.status,
        code: worst.code,
        wall: sum('wall'),
        user: sum('user'),
        sys: sum('sys'),
        cpu: sum('cpu'),
        rssMiB: rs.some((r) => r.rssMiB != null) ? Math.max(...rs.map((r) => r.rssMiB ?? 0)) : null,
        bytes: sum('bytes'),
        runs: rs.length > 1 ? rs : undefined,
        errTail: worst.errTail,
        log: worst.log,
      };
    }

    // repository sizes after all versions
    const logical = ds.states.reduce((a, s) => a + s.bytes, 0);
    ds.logicalBytes = logical; // every distinct version once
    ds.snapshotBytes = logical + ds.states[0].bytes; // every snapshot, including the unchanged re-backup
    for (const t of live()) {
      const d = du(repoDir(t));
      ds.tools[t].repoBytes = d.apparent;
      ds.tools[t].repoBytesAllocated = d.allocated;
      ds.tools[t].dedupe = d.apparent ? logical / d.apparent : null;
      ds.tools[t].toolCacheBytes = du(toolScratch(t)).apparent;
    }

    // restore latest + verify
    const current = ds.states[ds.states.length - 1];
    for (const t of live()) {
      const target = join(dir, 'restore', t);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(target, { recursive: true });
      const r = await run(t, 'restore', tools[t].restore(repoDir(t), target, `b${archives[t]}`, prof(t, 'restore')), { bytes: current.bytes, drop: true });
      if (r.status !== 'fail') {
        r.verify = await compareTrees(work, tools[t].restoredRoot(target, work));
        if (!r.verify.ok) r.verify.restoredRoot = tools[t].restoredRoot(target, work);
      }
      ds.tools[t].steps.restore = r;
      show(t, 'restore', r);
      if (r.verify) log(`         restore verified: ${r.verify.ok ? `ok (${r.verify.files} files, ${(r.verify.bytes / MiB).toFixed(1)} MiB)` : `MISMATCH (${r.verify.mismatchCount}): ${r.verify.mismatches.slice(0, 5).join('; ')}`}`);
      if (!opts.keep) rmSync(target, { recursive: true, force: true });
    }

    // check --read-data
    for (const t of live()) {
      if (t === 'repo' && !tools[t].hasCheck) {
        ds.tools[t].steps.check = { status: 'n/a', note: 'repo has no check command yet' };
        show(t, 'check', ds.tools[t].steps.check);
        continue;
      }
      const r = await run(t, 'check', tools[t].check(repoDir(t), prof(t, 'check')), { bytes: ds.tools[t].repoBytes, drop: true });
      ds.tools[t].steps.check = r;
      show(t, 'check', r);
    }

    for (const t of active.filter((x) => broken.has(x))) {
      for (const [k] of STEPS) ds.tools[t].steps[k] ??= { status: 'skipped', note: 'init failed' };
    }

    if (opts.profile && tools.repo?.available) {
      ds.profiles = {};
      for (const [k] of STEPS) {
        const keys = k === 'backup2' && prep.changes.length > 1 ? prep.changes.map((_, i) => `backup2-${i + 1}`) : [k];
        for (const key of keys) {
          const s = summarizeProfiles(join(profilesDir, mod.name, key), projectRoot);
          if (s) ds.profiles[key] = s;
        }
      }
    }
  } catch (e) {
    ds.status = 'error';
    ds.error = e.stack ?? String(e);
    log(`  dataset ${mod.name} aborted: ${e.message}`);
  } finally {
    if (opts.keep) log(`  kept: ${dir} (work dir, repos/, restore/)`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return ds;
}
