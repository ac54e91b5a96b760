// Printed tables (one per dataset) and the summary of performance targets.

export const STEPS = [
  ['init', 'init'],
  ['backup1', 'first backup (v1)'],
  ['rebackup', 'unchanged re-backup'],
  ['backup2', 'backup after change'],
  ['restore', 'restore latest'],
  ['check', 'check --read-data'],
];

const MiB = 2 ** 20;
const f1 = (x) => (x == null || !Number.isFinite(x) ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const f2 = (x) => (x == null || !Number.isFinite(x) ? '' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fx = (x) => (x == null || !Number.isFinite(x) ? '' : `${x.toFixed(2)}×`);

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

/** Speedup of repo over another tool for a step (other wall / repo wall), null when not comparable. */
export function speedup(ds, other, step) {
  const r = ds.tools.repo?.steps?.[step];
  const o = ds.tools[other]?.steps?.[step];
  if (!okStep(r) || !okStep(o) || !(r.wall > 0)) return null;
  return o.wall / r.wall;
}

export function rssRatio(ds, other, step) {
  const r = ds.tools.repo?.steps?.[step];
  const o = ds.tools[other]?.steps?.[step];
  if (!okStep(r) || !okStep(o) || !(r.rssMiB > 0) || !(o.rssMiB > 0)) return null;
  return r.rssMiB / o.rssMiB;
}

export function datasetTable(ds, toolNames) {
  const others = toolNames.filter((t) => t !== 'repo' && ds.tools[t]);
  const hasRepo = toolNames.includes('repo') && ds.tools.repo;
  const header = ['step'];
  const groups = [1];
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
  const nChanges = ds.states.length - 1;
  const rows = STEPS.map(([key, label]) => {
    const row = [key === 'backup2' && nChanges > 1 ? `${label} (${nChanges}×, sum)` : label];
    for (const t of toolNames) row.push(...stepCells(ds.tools[t]?.steps?.[key]));
    if (hasRepo && others.length) {
      for (const o of others) row.push(fx(speedup(ds, o, key)));
      for (const o of others) row.push(f2(rssRatio(ds, o, key)));
    }
    return row;
  });
  const main = render(header, rows, groups);

  // sizes
  const sh = ['', ...toolNames];
  const size = ['repo size MiB', ...toolNames.map((t) => f1(ds.tools[t]?.repoBytes != null ? ds.tools[t].repoBytes / MiB : null))];
  const dedupe = ['dedupe ratio', ...toolNames.map((t) => f2(ds.tools[t]?.dedupe))];
  const rel = ['repo size ÷ this', ...toolNames.map((t) => (t === 'repo' || !ds.tools.repo?.repoBytes || !ds.tools[t]?.repoBytes ? '' : f2(ds.tools.repo.repoBytes / ds.tools[t].repoBytes)))];
  const ver = ['restore verified', ...toolNames.map((t) => verifyText(ds.tools[t]?.steps?.restore))];
  const sizes = render(sh, [size, dedupe, rel, ver], [1, toolNames.length]);
  return `${main}\n\n${sizes}`;
}

function verifyText(s) {
  if (!s) return '';
  if (!s.verify) return s.status === 'fail' ? 'FAIL' : 'n/a';
  return s.verify.ok ? 'ok' : `FAIL: ${s.verify.mismatchCount} mismatches`;
}

/** The targets set for repo; each → { target, dataset, status: MET|MISSED|N/A, detail }. */
export function evaluateTargets(datasets) {
  const out = [];
  const done = datasets.filter((d) => d.status === 'done');
  const add = (target, dataset, value, ok, detail) => out.push({ target, dataset, status: value == null ? 'N/A' : ok ? 'MET' : 'MISSED', detail });
  const ratioTarget = (target, step, min, names) => {
    const sel = done.filter((d) => !names || names.includes(d.name));
    if (!sel.length) out.push({ target, dataset: '-', status: 'N/A', detail: 'dataset not run' });
    for (const d of sel) {
      const v = speedup(d, 'restic', step);
      const r = d.tools.repo?.steps?.[step];
      if (r?.status === 'fail') out.push({ target, dataset: d.name, status: 'MISSED', detail: `repo failed (exit ${r.code})` });
      else if (r?.verify && !r.verify.ok) out.push({ target, dataset: d.name, status: 'MISSED', detail: 'repo restored wrong data' });
      else add(target, d.name, v, v >= min, v == null ? (r?.status === 'n/a' ? 'N/A for repo' : 'no comparable run') : `${v.toFixed(2)}× restic`);
    }
  };
  ratioTarget('first backup ≥ 1.5× restic throughput (random, kernel)', 'backup1', 1.5, ['random', 'kernel']);
  ratioTarget('unchanged re-backup ≥ 3× faster than restic', 'rebackup', 3);
  ratioTarget('restore ≥ 1.5× faster than restic', 'restore', 1.5);
  ratioTarget('check --read-data ≥ 1.5× faster than restic', 'check', 1.5);
  for (const d of done) {
    const ratios = STEPS.map(([k]) => [k, rssRatio(d, 'restic', k)]).filter(([, v]) => v != null);
    const worse = ratios.filter(([, v]) => v > 1);
    add(
      'peak RSS ≤ restic on every step',
      d.name,
      ratios.length ? 1 : null,
      worse.length === 0,
      ratios.length ? (worse.length ? `above on ${worse.map(([k, v]) => `${k} (${v.toFixed(2)}×)`).join(', ')}` : `max ${Math.max(...ratios.map(([, v]) => v)).toFixed(2)}× restic`) : 'no comparable run',
    );
  }
  const a = done.find((d) => d.name === 'versions');
  const r = a?.tools.repo?.repoBytes;
  const s = a?.tools.restic?.repoBytes;
  add('repo size after all versions of (a) ≤ restic', 'versions', r && s ? r / s : null, r <= s, r && s ? `${(r / MiB).toFixed(1)} MiB vs ${(s / MiB).toFixed(1)} MiB (${(r / s).toFixed(2)}×)` : a ? 'no comparable run' : 'dataset not run');
  for (const d of done) {
    for (const [t, tr] of Object.entries(d.tools)) {
      const v = tr.steps?.restore?.verify;
      if (v && !v.ok) out.push({ target: 'restore matches source', dataset: `${d.name}/${t}`, status: 'MISSED', detail: v.mismatches.slice(0, 3).join('; ') });
    }
  }
  return out;
}

export function targetsText(targets) {
  const w = Math.max(...targets.map((t) => t.target.length));
  const wd = Math.max(...targets.map((t) => t.dataset.length));
  return targets.map((t) => `  [${t.status.padEnd(6)}] ${t.target.padEnd(w)}  ${t.dataset.padEnd(wd)}  ${t.detail}`).join('\n');
}
