// Printed tables (one per dataset) and the summary of performance targets.

/** [key, label, runs per cache state (cold/warm)] in the order they run and are shown. */
export const STEPS = [
  ['version', 'version (median of 3)', false],
  ['init', 'init', false],
  ['backup1', 'first backup (v1)', true],
  ['rebackup', 'unchanged re-backup', true],
  ['readback', 're-backup after reading every file', true],
  ['backup2', 'backup after change', true],
  ['snapshots', 'list snapshots', true],
  ['restore', 'restore latest', true],
  ['check', 'check --read-data', true],
];
/** Steps that add a snapshot, with the repository growth measured. */
export const BACKUP_STEPS = ['backup1', 'rebackup', 'readback', 'backup2'];
/** Top-level entries of a repo repository that hold snapshot records and bookkeeping, not stored data. */
const REPO_RECORD_ENTRIES = ['snapshots', 'audit', 'locks'];

/** The table rows of a dataset: { key (in steps), step, state ('' when run once), label }. */
export function stepRows(ds) {
  const states = ds.cacheStates ?? ['cold'];
  const nChanges = ds.states.length - 1;
  const out = [];
  for (const [step, label0, stateful] of STEPS) {
    const label = step === 'backup2' && nChanges > 1 ? `${label0} (${nChanges}×, sum)` : label0;
    if (!stateful) out.push({ key: step, step, state: '', label });
    else for (const state of states) out.push({ key: `${step}.${state}`, step, state, label });
  }
  return out;
}
export const rowKeys = (ds) => stepRows(ds).map((r) => r.key);

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const f1 = (x) => (x == null || !Number.isFinite(x) ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const f2 = (x) =>
  x == null || !Number.isFinite(x) ? '' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
const fx = (x) => (x == null || !Number.isFinite(x) ? '' : `${x.toFixed(2)}×`);

/** Bytes as B / KiB / MiB / GiB; sign: show "+" on positive values. */
export function fmtBytes(n, sign = false) {
  if (n == null || !Number.isFinite(n)) return '';
  const a = Math.abs(n);
  const p = n < 0 ? '-' : sign ? '+' : '';
  if (a < 1024) return `${p}${a} B`;
  if (a < MiB) return `${p}${(a / 1024).toFixed(1)} KiB`;
  if (a < GiB) return `${p}${(a / MiB).toFixed(1)} MiB`;
  return `${p}${(a / GiB).toFixed(2)} GiB`;
}

/** Renders rows (arrays of strings) with column widths; `groups` = column counts between " | ". */
function render(header, rows, groups, leftCols = 1) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r) => {
    const parts = [];
    let c = 0;
    for (const g of groups) {
      const cells = [];
      for (let i = 0; i < g; i++, c++) {
        const s = r[c] ?? '';
        cells.push(c < leftCols ? s.padEnd(w[c]) : s.padStart(w[c]));
      }
      parts.push(cells.join('  '));
    }
    return parts.join(' | ').trimEnd();
  };
  const out = [line(header)];
  out.push(out[0].replace(/[^|]/g, '-'));
  for (const r of rows) out.push(line(r));
  return out.join('\n');
}

function stepCells(s) {
  if (!s) return ['', '', '', ''];
  if (s.status === 'n/a') return ['N/A', '', '', ''];
  if (s.status === 'skipped') return ['skip', '', '', ''];
  if (s.status === 'fail') return [`FAIL(${s.code})`, f1(s.cpu), '', f1(s.rssMiB)];
  let wall = f2(s.wall);
  if (s.status === 'warn') wall += '!';
  if (s.verify && !s.verify.ok) wall += ' MISMATCH';
  return [wall, f2(s.cpu), s.bytes != null && s.wall > 0 ? f1(s.bytes / MiB / s.wall) : '', f1(s.rssMiB)];
}

const okStep = (s) => s && (s.status === 'ok' || s.status === 'warn');

/** Speedup of repo over another tool for a step key such as "restore.warm" (other wall / repo wall), null when not comparable. */
export function speedup(ds, other, key) {
  const r = ds.tools.repo?.steps?.[key];
  const o = ds.tools[other]?.steps?.[key];
  if (!okStep(r) || !okStep(o) || !(r.wall > 0)) return null;
  return o.wall / r.wall;
}

export function rssRatio(ds, other, key) {
  const r = ds.tools.repo?.steps?.[key];
  const o = ds.tools[other]?.steps?.[key];
  if (!okStep(r) || !okStep(o) || !(r.rssMiB > 0) || !(o.rssMiB > 0)) return null;
  return r.rssMiB / o.rssMiB;
}

export function datasetTable(ds, toolNames) {
  const others = toolNames.filter((t) => t !== 'repo' && ds.tools[t]);
  const hasRepo = toolNames.includes('repo') && ds.tools.repo;
  const header = ['step', 'cache'];
  const groups = [2];
  for (const t of toolNames) {
    header.push(`${t} s`, 'cpu s', 'MiB/s', 'RSS MiB');
    groups.push(4);
  }
  if (hasRepo && others.length) {
    for (const o of others) header.push(`vs ${o}`);
    groups.push(others.length);
    for (const o of others) header.push(`RSS÷${o}`);
    groups.push(others.length);
  }
  const rows = stepRows(ds).map(({ key, state, label }) => {
    const row = [label, state];
    for (const t of toolNames) row.push(...stepCells(ds.tools[t]?.steps?.[key]));
    if (hasRepo && others.length) {
      for (const o of others) row.push(fx(speedup(ds, o, key)));
      for (const o of others) row.push(f2(rssRatio(ds, o, key)));
    }
    return row;
  });
  const main = render(header, rows, groups, 2);

  // what each backup added to the repository
  const gRows = stepRows(ds)
    .filter((r) => BACKUP_STEPS.includes(r.step))
    .map(({ key, state, label }) => [
      label,
      state,
      ...toolNames.map((t) => fmtBytes(ds.tools[t]?.steps?.[key]?.repoGrowth?.bytes, true)),
    ]);
  const growth = render(
    ['repository growth (du -sb after - before)', 'cache', ...toolNames],
    gRows,
    [2, toolNames.length],
    2,
  );
  const rf = ds.readEveryFile;
  const readNote = rf
    ? `\n(re-backup after reading every file: ${rf.files} file${rf.files === 1 ? '' : 's'} read with plain reads; atime moved on ${rf.atimeMoved} of ${rf.files}; mount ${rf.mount?.policy ?? '?'})`
    : '';

  // sizes
  const sh = ['', ...toolNames];
  const size = [
    'repo size MiB',
    ...toolNames.map((t) => f1(ds.tools[t]?.repoBytes != null ? ds.tools[t].repoBytes / MiB : null)),
  ];
  const dedupe = ['dedupe ratio', ...toolNames.map((t) => f2(ds.tools[t]?.dedupe))];
  const rel = [
    'repo size ÷ this',
    ...toolNames.map((t) =>
      t === 'repo' || !ds.tools.repo?.repoBytes || !ds.tools[t]?.repoBytes
        ? ''
        : f2(ds.tools.repo.repoBytes / ds.tools[t].repoBytes),
    ),
  ];
  const ver = (ds.cacheStates ?? ['cold']).map((s) => [
    `restore verified (${s})`,
    ...toolNames.map((t) => verifyText(ds.tools[t]?.steps?.[`restore.${s}`])),
  ]);
  const sizes = render(sh, [size, dedupe, rel, ...ver], [1, toolNames.length]);
  return `${main}\n\n${growth}${readNote}\n\n${sizes}`;
}

function verifyText(s) {
  if (!s) return '';
  if (!s.verify) return s.status === 'fail' ? 'FAIL' : 'n/a';
  return s.verify.ok ? 'ok' : `FAIL: ${s.verify.mismatchCount} mismatches`;
}

/** The targets set for repo; each → { target, dataset, state, status: MET|MISSED|N/A, detail }. */
export function evaluateTargets(datasets) {
  const out = [];
  const done = datasets.filter((d) => d.status === 'done');
  const statesOf = (d) => d.cacheStates ?? ['cold'];
  const add = (target, dataset, state, value, ok, detail) =>
    out.push({ target, dataset, state, status: value == null ? 'N/A' : ok ? 'MET' : 'MISSED', detail });
  const ratioTarget = (target, step, min, names) => {
    const sel = done.filter((d) => !names || names.includes(d.name));
    if (!sel.length) out.push({ target, dataset: '-', state: '', status: 'N/A', detail: 'dataset not run' });
    for (const d of sel) {
      for (const state of statesOf(d)) {
        const key = `${step}.${state}`;
        const v = speedup(d, 'restic', key);
        const r = d.tools.repo?.steps?.[key];
        const o = d.tools.restic?.steps?.[key];
        if (r?.status === 'fail')
          out.push({ target, dataset: d.name, state, status: 'MISSED', detail: `repo failed (exit ${r.code})` });
        else if (r?.verify && !r.verify.ok)
          out.push({ target, dataset: d.name, state, status: 'MISSED', detail: 'repo restored wrong data' });
        else {
          const detail =
            v == null
              ? r?.status === 'n/a'
                ? 'N/A for repo'
                : 'no comparable run'
              : `${v.toFixed(2)}× restic (repo ${r.wall.toFixed(2)} s, restic ${o.wall.toFixed(2)} s; repo÷restic ${(r.wall / o.wall).toFixed(2)})`;
          add(target, d.name, state, v, v >= min, detail);
        }
      }
    }
  };
  ratioTarget('first backup ≥ 1.5× restic throughput (random, kernel)', 'backup1', 1.5, ['random', 'kernel']);
  ratioTarget('unchanged re-backup ≥ 3× faster than restic', 'rebackup', 3);
  ratioTarget('restore ≥ 1.5× faster than restic', 'restore', 1.5);
  ratioTarget('check --read-data ≥ 1.5× faster than restic', 'check', 1.5);
  for (const d of done) {
    for (const state of statesOf(d)) {
      const keys = stepRows(d).filter((r) => r.state === '' || r.state === state);
      const ratios = keys.map((r) => [r.key, rssRatio(d, 'restic', r.key)]).filter(([, v]) => v != null);
      const worse = ratios.filter(([, v]) => v > 1);
      add(
        'peak RSS ≤ restic on every step',
        d.name,
        state,
        ratios.length ? 1 : null,
        worse.length === 0,
        ratios.length
          ? worse.length
            ? `above on ${worse.map(([k, v]) => `${k.split('.')[0]} (${v.toFixed(2)}×)`).join(', ')}`
            : `max ${Math.max(...ratios.map(([, v]) => v)).toFixed(2)}× restic`
          : 'no comparable run',
      );
    }
  }
  for (const d of done) {
    for (const state of statesOf(d)) {
      const target = 're-backup after reading every file stores 0 bytes';
      const key = `readback.${state}`;
      const r = d.tools.repo?.steps?.[key];
      const g = r?.repoGrowth;
      if (r?.status === 'fail') {
        out.push({ target, dataset: d.name, state, status: 'MISSED', detail: `repo failed (exit ${r.code})` });
        continue;
      }
      if (!okStep(r) || !g) {
        add(target, d.name, state, null, false, 'no run');
        continue;
      }
      const rf = d.readEveryFile;
      if (rf && rf.atimeMoved === 0) {
        add(target, d.name, state, null, false, `no atime moved (mount ${rf.mount?.policy ?? '?'}), nothing to test`);
        continue;
      }
      // every backup adds a snapshot record (and an audit entry): "stored" = everything else
      const stored = Object.entries(g.entries)
        .filter(([k]) => !REPO_RECORD_ENTRIES.includes(k))
        .reduce((a, [, v]) => a + v, 0);
      const un = d.tools.repo.steps[`rebackup.${state}`]?.repoGrowth?.bytes;
      const oth = Object.keys(d.tools)
        .filter((t) => t !== 'repo' && d.tools[t].steps?.[key]?.repoGrowth)
        .map((t) => `${t} ${fmtBytes(d.tools[t].steps[key].repoGrowth.bytes, true)}`);
      add(
        target,
        d.name,
        state,
        stored,
        stored <= 0,
        `${fmtBytes(stored, true)} outside ${REPO_RECORD_ENTRIES.join('/')}/ (repository ${fmtBytes(g.bytes, true)}; unchanged re-backup ${fmtBytes(un, true)}${oth.length ? `; ${oth.join(', ')}` : ''}; atime moved on ${rf?.atimeMoved ?? '?'}/${rf?.files ?? '?'} files)`,
      );
    }
  }
  const a = done.find((d) => d.name === 'versions');
  const r = a?.tools.repo?.repoBytes;
  const s = a?.tools.restic?.repoBytes;
  add(
    'repo size after all versions of (a) ≤ restic',
    'versions',
    '',
    r && s ? r / s : null,
    r <= s,
    r && s
      ? `${(r / MiB).toFixed(1)} MiB vs ${(s / MiB).toFixed(1)} MiB (${(r / s).toFixed(2)}×)`
      : a
        ? 'no comparable run'
        : 'dataset not run',
  );
  for (const d of done) {
    for (const [t, tr] of Object.entries(d.tools)) {
      for (const state of statesOf(d)) {
        const v = tr.steps?.[`restore.${state}`]?.verify;
        if (v && !v.ok)
          out.push({
            target: 'restore matches source',
            dataset: `${d.name}/${t}`,
            state,
            status: 'MISSED',
            detail: v.mismatches.slice(0, 3).join('; '),
          });
      }
    }
  }
  return out;
}

export function targetsText(targets) {
  const w = Math.max(...targets.map((t) => t.target.length));
  const wd = Math.max(...targets.map((t) => t.dataset.length));
  const ws = Math.max(4, ...targets.map((t) => (t.state ?? '').length));
  return targets
    .map(
      (t) =>
        `  [${t.status.padEnd(6)}] ${t.target.padEnd(w)}  ${t.dataset.padEnd(wd)}  ${(t.state ?? '').padEnd(ws)}  ${t.detail}`,
    )
    .join('\n');
}
