// The plots of `repo ui` and `repo report --html`, drawn with uPlot from the JSON of src/ui/plot-data.ts.
// Shared by the live page and the self-contained report; builds the DOM with textContent only (no HTML from data).
/* global uPlot */
(function () {
  'use strict';

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const k of Object.keys(attrs || {})) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of children || []) if (c !== null && c !== undefined) e.appendChild(c);
    return e;
  }

  function bytes(n) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    let v = n;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
  }

  function age(seconds) {
    if (seconds === undefined || seconds === null) return '–';
    const s = Math.abs(seconds);
    if (s < 120) return Math.round(s) + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    if (s < 172800) return Math.round(s / 3600) + ' h';
    return Math.round(s / 86400) + ' d';
  }

  function ratio(v) {
    return v ? v.toFixed(2) + '×' : '–';
  }

  const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
  const instances = [];
  window.__repoPlots = window.__repoPlots || {};

  function width(box) {
    return Math.max(260, Math.min(box.clientWidth || 600, 1100));
  }

  /** A chart section: a titled box holding one uPlot; `points` (data points) is set as an attribute for tests. */
  function chart(parent, name, title, note, opts, data) {
    const box = el('div', { class: 'plot', 'data-plot': name, 'data-points': String(data[0].length) });
    const sec = el('section', { class: 'card' }, [
      el('h3', { text: title }),
      note ? el('p', { class: 'note', text: note }) : null,
      box,
    ]);
    parent.appendChild(sec);
    if (data[0].length === 0) {
      box.appendChild(el('p', { class: 'empty', text: 'no data yet' }));
      return null;
    }
    // A fixed x range around the data with a small margin: uPlot's own range for one point (or a few seconds
    // of snapshots) spans years.
    opts.scales = opts.scales || {};
    if (!opts.scales.x) {
      const xs = data[0];
      const lo = Math.min.apply(null, xs);
      const hi = Math.max.apply(null, xs);
      const pad = hi > lo ? (hi - lo) * 0.04 : 600;
      opts.scales.x = { time: true, auto: false, range: [lo - pad, hi + pad] };
    }
    opts.width = width(box);
    opts.height = Math.round(Math.min(320, Math.max(200, opts.width * 0.45)));
    const u = new uPlot(opts, data, box);
    instances.push({ u: u, box: box });
    window.__repoPlots[name] = u;
    return u;
  }

  const bytesAxis = (scale, side) => ({
    scale: scale,
    side: side,
    size: 84,
    values: (u, vals) => vals.map(bytes),
  });

  function bars() {
    return uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 60] }) : undefined;
  }

  function distribution(parent, name, title, note, series) {
    // Power-of-two bins on a category axis: bin i holds sizes up to upper[i].
    let upper = [];
    for (const s of series) if (s.dist.upper.length > upper.length) upper = s.dist.upper;
    const x = upper.map((_, i) => i);
    const data = [x].concat(series.map((s) => upper.map((_, i) => s.dist.counts[i] || 0)));
    chart(
      parent,
      name,
      title,
      note,
      {
        scales: { x: { time: false, range: () => [-0.5, upper.length - 0.5] } },
        axes: [
          { values: (u, vals) => vals.map((v) => (upper[v] !== undefined ? '≤' + bytes(upper[v]) : '')), size: 50 },
          { size: 60 },
        ],
        series: [{ label: 'size', value: (u, v) => (upper[v] !== undefined ? '≤ ' + bytes(upper[v]) : '') }].concat(
          series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i],
            fill: COLORS[i] + '88',
            paths: bars(),
            points: { show: false },
          })),
        ),
      },
      data,
    );
  }

  function health(parent, d) {
    const h = d.health;
    const rows = [
      ['snapshots', String(h.snapshots)],
      [
        'newest snapshot',
        h.newestSnapshot ? h.newestSnapshot.time + ' (' + age(h.newestSnapshot.ageSeconds) + ' ago)' : 'none',
      ],
      [
        'last check',
        h.lastCheck
          ? h.lastCheck.result + ' at ' + h.lastCheck.time + ' (' + age(h.lastCheck.ageSeconds) + ' ago)'
          : 'never',
      ],
      ['repository size', bytes(h.repositoryBytes) + ' in ' + h.packs + ' packs'],
      ['dedupe ratio', ratio(h.dedupeRatio)],
      ['compression ratio', ratio(h.compressionRatio)],
    ];
    const ok = h.findings.length === 0;
    parent.appendChild(
      el('section', { class: 'card health ' + (ok ? 'ok' : 'bad'), 'data-health': ok ? 'ok' : 'attention' }, [
        el('h3', { text: ok ? 'Health: everything looks fine' : 'Health: ' + h.findings.length + ' finding(s)' }),
        el(
          'dl',
          {},
          rows.flatMap((r) => [el('dt', { text: r[0] }), el('dd', { text: r[1] })]),
        ),
        ok
          ? null
          : el(
              'ul',
              {},
              h.findings.map((f) => el('li', { text: f })),
            ),
      ]),
    );
  }

  function profiles(parent, d) {
    const sec = el('section', { class: 'card', 'data-plot': 'objectives' }, [
      el('h3', { text: 'RPO / RTO per profile' }),
    ]);
    parent.appendChild(sec);
    if (!d.profiles || d.profiles.length === 0) {
      sec.appendChild(el('p', { class: 'empty', text: d.profilesNote || 'no profiles' }));
      return;
    }
    const rows = [];
    for (const p of d.profiles) {
      if (p.objectives.length === 0) rows.push([p.profile, '–', 'none configured', '', '']);
      for (const o of p.objectives)
        rows.push([
          p.profile,
          o.objective.toUpperCase(),
          o.state,
          o.valueSeconds === undefined ? '–' : age(o.valueSeconds),
          age(o.targetSeconds),
          o.message,
        ]);
    }
    sec.appendChild(table(['profile', 'objective', 'state', 'value', 'target'], rows, 2));
  }

  function table(head, rows, stateCol) {
    return el('div', { class: 'scroll' }, [
      el('table', {}, [
        el('thead', {}, [
          el(
            'tr',
            {},
            head.map((h) => el('th', { text: h })),
          ),
        ]),
        el(
          'tbody',
          {},
          rows.map((r) =>
            el(
              'tr',
              { title: r[5] || '' },
              r.slice(0, head.length).map((c, i) => el('td', { text: c, class: i === stateCol ? 'state ' + c : '' })),
            ),
          ),
        ),
      ]),
    ]);
  }

  function render(root, d) {
    root.textContent = '';
    instances.length = 0;
    const s = d.snapshots;
    health(root, d);
    const grid = el('div', { class: 'plots' });
    root.appendChild(grid);
    chart(
      grid,
      'growth',
      'Repository size and bytes added per snapshot',
      'stored bytes of every blob referenced by a snapshot up to then; bars: what each snapshot added',
      {
        series: [
          {},
          { label: 'repository', stroke: COLORS[0], width: 2, scale: 'size', value: (u, v) => bytes(v) },
          {
            label: 'added',
            stroke: COLORS[1],
            fill: COLORS[1] + '55',
            scale: 'added',
            paths: bars(),
            points: { show: false },
            value: (u, v) => bytes(v),
          },
        ],
        axes: [{}, bytesAxis('size', 3), bytesAxis('added', 1)],
      },
      [s.time, s.repositoryBytes, s.addedStoredBytes],
    );
    chart(
      grid,
      'ratios',
      'Dedupe and compression over time',
      'dedupe: bytes backed up so far over distinct bytes; compression: distinct over stored bytes',
      {
        series: [
          {},
          { label: 'dedupe', stroke: COLORS[2], width: 2, value: (u, v) => ratio(v) },
          { label: 'compression', stroke: COLORS[3], width: 2, value: (u, v) => ratio(v) },
        ],
        axes: [{}, { values: (u, vals) => vals.map((v) => v + '×') }],
      },
      [s.time, s.dedupeRatio, s.compressionRatio],
    );
    distribution(grid, 'blob-sizes', 'Blob sizes', 'uncompressed size of every indexed blob', [
      { label: 'data blobs', dist: d.blobSizes.data },
      { label: 'tree blobs', dist: d.blobSizes.tree },
    ]);
    distribution(grid, 'pack-sizes', 'Pack sizes', 'size of every pack file', [{ label: 'packs', dist: d.packSizes }]);
    const rated = d.checks.filter((c) => c.bytesPerSecond !== null);
    chart(
      grid,
      'checks',
      'Check history and read rate',
      d.checks.length +
        ' checks (' +
        d.checks.filter((c) => c.result !== 'success').length +
        ' with problems); points: read rate of checks that read data',
      {
        series: [
          {},
          {
            label: 'read rate',
            stroke: COLORS[5],
            width: 0,
            points: { show: true, size: 8 },
            value: (u, v) => bytes(v) + '/s',
          },
        ],
        axes: [{}, { size: 96, values: (u, vals) => vals.map((v) => bytes(v) + '/s') }],
      },
      [rated.map((c) => c.time), rated.map((c) => c.bytesPerSecond)],
    );
    profiles(grid, d);
    const labels = [];
    for (const r of d.analyze) for (const st of r.settings) if (labels.indexOf(st.label) < 0) labels.push(st.label);
    chart(
      grid,
      'analyze',
      'Dedupe of repo analyze runs',
      d.analyze.length + ' stored runs; one line per chunker setting',
      {
        series: [{}].concat(
          labels.map((l, i) => ({
            label: l,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            points: { show: true, size: 7 },
            value: (u, v) => ratio(v),
          })),
        ),
        axes: [{}, { values: (u, vals) => vals.map((v) => v + '×') }],
      },
      [d.analyze.map((r) => r.time)].concat(
        labels.map((l) =>
          d.analyze.map((r) => {
            const st = r.settings.find((x) => x.label === l);
            return st ? st.dedupeRatio : null;
          }),
        ),
      ),
    );
  }

  let resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      for (const i of instances) {
        const w = width(i.box);
        i.u.setSize({ width: w, height: Math.round(Math.min(320, Math.max(200, w * 0.45))) });
      }
    }, 150);
  });

  window.RepoPlots = { render: render, bytes: bytes, age: age, el: el };
})();
