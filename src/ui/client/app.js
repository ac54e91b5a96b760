// The `repo ui` page: snapshot timeline, browsing, preview, downloads, diff, restore and plots over the JSON
// API of src/ui/server.ts. Routes live in the URL fragment (#/browse?snapshot=…&path=…) so the back button works.
// Builds the DOM with textContent only: names from a snapshot are data, never HTML.
/* global RepoPlots */
(function () {
  'use strict';
  const el = RepoPlots.el;
  const bytes = RepoPlots.bytes;
  const main = document.getElementById('main');
  const allowRestore = document.body.getAttribute('data-allow-restore') === 'true';

  function link(href, text, cls) {
    return el('a', { href: href, text: text, class: cls || '' });
  }

  function route(name, params) {
    return '#/' + name + (params ? '?' + new URLSearchParams(params).toString() : '');
  }

  async function api(path, params) {
    const res = await fetch('/api/' + path + (params ? '?' + new URLSearchParams(params).toString() : ''), {
      credentials: 'same-origin',
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    return body;
  }

  function fileUrl(snapshot, path, download) {
    const p = { snapshot: snapshot, path: path };
    if (download) p.download = '1';
    return '/api/file?' + new URLSearchParams(p).toString();
  }

  function when(t) {
    const d = new Date(t);
    return isNaN(d.getTime()) ? t : d.toLocaleString();
  }

  function title(text, sub) {
    main.appendChild(el('h2', { text: text }));
    if (sub) main.appendChild(el('p', { class: 'note', text: sub }));
  }

  function failure(err) {
    main.appendChild(
      el('p', { class: 'error', role: 'alert', text: 'Error: ' + (err && err.message ? err.message : String(err)) }),
    );
  }

  async function showTimeline() {
    title('Snapshots', 'per host and path set, newest first');
    const groups = await api('timeline');
    if (groups.length === 0) main.appendChild(el('p', { class: 'empty', text: 'no snapshots yet' }));
    for (const g of groups) {
      const list = el('ol', { class: 'timeline', reversed: '' });
      const snaps = g.snapshots.slice().reverse();
      snaps.forEach(function (s, i) {
        const prev = snaps[i + 1];
        list.appendChild(
          el('li', { class: 'snap', 'data-snapshot': s.id }, [
            el('div', { class: 'when' }, [
              link(route('browse', { snapshot: s.id, path: '/' }), when(s.time), 'open'),
              el('code', { text: s.short }),
            ]),
            el('div', { class: 'facts' }, [
              el('span', {
                text: s.size === null ? '' : bytes(s.size) + (s.files === null ? '' : ' in ' + s.files + ' files'),
              }),
              el('span', { text: s.added === null ? '' : '+' + bytes(s.added) + ' new' }),
            ]),
            el(
              'div',
              { class: 'tags' },
              s.tags.map((t) => el('span', { class: 'tag', text: t })),
            ),
            prev ? link(route('diff', { a: prev.id, b: s.id }), 'diff with previous', 'button small') : null,
          ]),
        );
      });
      main.appendChild(
        el('section', { class: 'card group' }, [
          el('h3', {}, [el('span', { text: g.host }), el('span', { class: 'paths', text: ' ' + g.paths.join(' ') })]),
          el('p', { class: 'note', text: g.snapshots.length + ' snapshots' }),
          list,
        ]),
      );
    }
  }

  function crumbs(snapshot, path) {
    const nav = el('nav', { class: 'crumbs', 'aria-label': 'path' }, [
      link(route('browse', { snapshot: snapshot, path: '/' }), '/'),
    ]);
    const parts = path.split('/').filter(Boolean);
    parts.forEach(function (p, i) {
      const to = '/' + parts.slice(0, i + 1).join('/');
      nav.appendChild(link(route('browse', { snapshot: snapshot, path: to }), p + (i < parts.length - 1 ? '/' : '')));
    });
    return nav;
  }

  function restoreForm(snapshot, path) {
    if (!allowRestore) return null;
    const input = el('input', {
      type: 'text',
      name: 'target',
      placeholder: '/absolute/new/directory',
      'aria-label': 'restore target directory',
    });
    const out = el('p', { class: 'note' });
    const button = el('button', { type: 'submit', class: 'button', text: 'Restore here' });
    const form = el('form', { class: 'restore' }, [
      el('label', { text: 'Restore ' + path + ' into ' }),
      input,
      button,
      out,
    ]);
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      button.disabled = true;
      out.textContent = 'restoring…';
      try {
        const res = await fetch('/api/restore', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/json', 'x-repo-ui': '1' },
          body: JSON.stringify({ snapshot: snapshot, path: path, target: input.value }),
        });
        const body = await res.json();
        out.textContent = res.ok
          ? 'restored ' + body.files + ' files, ' + bytes(body.bytes) + ' into ' + body.target
          : 'Error: ' + body.error;
      } catch (err) {
        out.textContent = 'Error: ' + err.message;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  async function showBrowse(q) {
    const snapshot = q.get('snapshot') || 'latest';
    const path = q.get('path') || '/';
    const ls = await api('ls', { snapshot: snapshot, path: path });
    if (ls.node) return showFile(ls);
    title(
      'Snapshot ' + ls.snapshot.short + ' of ' + ls.snapshot.host,
      when(ls.snapshot.time) + ' · ' + ls.snapshot.paths.join(' '),
    );
    main.appendChild(crumbs(ls.snapshot.id, ls.path));
    const archive = function (format) {
      return (
        '/api/archive?' + new URLSearchParams({ snapshot: ls.snapshot.id, path: ls.path, format: format }).toString()
      );
    };
    main.appendChild(
      el('div', { class: 'actions' }, [
        el('a', { href: archive('tar'), class: 'button', download: '', text: 'Download as .tar' }),
        el('a', { href: archive('zip'), class: 'button', download: '', text: 'Download as .zip' }),
      ]),
    );
    const rows = ls.entries.map(function (e) {
      const to = (ls.path === '/' ? '' : ls.path) + '/' + e.name;
      const name =
        e.type === 'dir' ? e.name + '/' : e.type === 'symlink' ? e.name + ' → ' + (e.linktarget || '') : e.name;
      return el('tr', { 'data-type': e.type }, [
        el('td', {}, [
          e.type === 'dir' || e.type === 'file'
            ? link(route('browse', { snapshot: ls.snapshot.id, path: to }), name, 'entry')
            : el('span', { text: name }),
        ]),
        el('td', { class: 'num', text: e.type === 'file' ? bytes(e.size) : '' }),
        el('td', { class: 'when', text: when(e.mtime) }),
      ]);
    });
    main.appendChild(
      el('div', { class: 'scroll' }, [
        el('table', { class: 'listing' }, [
          el('thead', {}, [
            el('tr', {}, [el('th', { text: 'name' }), el('th', { text: 'size' }), el('th', { text: 'modified' })]),
          ]),
          el('tbody', {}, rows),
        ]),
      ]),
    );
    if (ls.entries.length === 0) main.appendChild(el('p', { class: 'empty', text: 'empty directory' }));
    for (const w of ls.warnings) main.appendChild(el('p', { class: 'error', text: w }));
    const form = restoreForm(ls.snapshot.id, ls.path);
    if (form) main.appendChild(form);
  }

  const TEXT_LIMIT = 256 * 1024;

  async function showFile(ls) {
    const n = ls.node;
    title(n.name, 'snapshot ' + ls.snapshot.short + ' · ' + bytes(n.size) + ' · modified ' + when(n.mtime));
    main.appendChild(crumbs(ls.snapshot.id, ls.path));
    main.appendChild(
      el('div', { class: 'actions' }, [
        el('a', {
          href: fileUrl(ls.snapshot.id, ls.path, true),
          class: 'button',
          download: n.name,
          id: 'download',
          text: 'Download',
        }),
      ]),
    );
    const kind = previewKind(n.name);
    const box = el('div', { class: 'preview' });
    main.appendChild(box);
    if (kind === 'image') {
      box.appendChild(el('img', { src: fileUrl(ls.snapshot.id, ls.path, false), alt: n.name }));
    } else if (kind === 'text') {
      const res = await fetch(fileUrl(ls.snapshot.id, ls.path, false), { credentials: 'same-origin' });
      const reader = res.body.getReader();
      const parts = [];
      let got = 0;
      while (got < TEXT_LIMIT) {
        const r = await reader.read();
        if (r.done) break;
        parts.push(r.value);
        got += r.value.length;
      }
      reader.cancel().catch(function () {});
      const all = new Uint8Array(Math.min(got, TEXT_LIMIT));
      let at = 0;
      for (const p of parts) {
        const take = p.subarray(0, Math.min(p.length, all.length - at));
        all.set(take, at);
        at += take.length;
      }
      box.appendChild(el('pre', { class: 'text', text: new TextDecoder().decode(all) }));
      if (n.size > TEXT_LIMIT)
        box.appendChild(el('p', { class: 'note', text: 'first ' + bytes(TEXT_LIMIT) + ' shown' }));
    } else {
      box.appendChild(el('p', { class: 'note', text: 'no preview for this kind of file' }));
    }
    const form = restoreForm(ls.snapshot.id, ls.path);
    if (form) main.appendChild(form);
  }

  function previewKind(name) {
    const ext = (name.lastIndexOf('.') < 0 ? name : name.slice(name.lastIndexOf('.') + 1)).toLowerCase();
    if (['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp', 'ico', 'avif', 'svg'].indexOf(ext) >= 0) return 'image';
    const text =
      'txt md markdown log csv tsv json yaml yml toml ini conf cfg xml html htm css js mjs cjs ts tsx jsx py rb go rs c h cc cpp hpp java kt sh bash zsh fish sql env diff patch tex rst properties service timer';
    return text.split(' ').indexOf(ext) >= 0 ? 'text' : 'none';
  }

  async function showDiff(q) {
    const a = q.get('a');
    const b = q.get('b');
    title('Diff');
    const groups = await api('timeline');
    const all = [];
    for (const g of groups)
      for (const s of g.snapshots)
        all.push({ id: s.id, label: when(s.time) + ' ' + s.short + ' ' + g.host + ' ' + g.paths.join(' ') });
    all.sort((x, y) => (x.label < y.label ? 1 : -1));
    const select = (name, value) =>
      el(
        'select',
        { name: name, 'aria-label': name === 'a' ? 'from snapshot' : 'to snapshot' },
        all.map((s) => {
          const o = el('option', { value: s.id, text: s.label });
          if (s.id === value) o.selected = true;
          return o;
        }),
      );
    const sa = select('a', a);
    const sb = select('b', b);
    const form = el('form', { class: 'diff-form' }, [
      el('label', { text: 'from' }),
      sa,
      el('label', { text: 'to' }),
      sb,
      el('button', { class: 'button', type: 'submit', text: 'Compare' }),
    ]);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      location.hash = route('diff', { a: sa.value, b: sb.value });
    });
    main.appendChild(form);
    if (!a || !b) return;
    const d = await api('diff', { a: a, b: b });
    const st = d.stats;
    main.appendChild(
      el('p', {
        class: 'note',
        text:
          d.a.short +
          ' → ' +
          d.b.short +
          ': ' +
          st.added.files +
          ' files added, ' +
          st.removed.files +
          ' removed, ' +
          st.changedFiles +
          ' changed; +' +
          bytes(st.added.bytes) +
          ' / −' +
          bytes(st.removed.bytes),
      }),
    );
    const list = el(
      'ul',
      { class: 'changes' },
      d.changes.map(function (c) {
        const target = c.modifier === '-' ? d.a.id : d.b.id;
        return el('li', { 'data-modifier': c.modifier }, [
          el('code', { class: 'mod', text: c.modifier }),
          link(route('browse', { snapshot: target, path: c.path.replace(/\/$/, '') || '/' }), c.path),
        ]);
      }),
    );
    main.appendChild(list);
    if (d.changes.length === 0) main.appendChild(el('p', { class: 'empty', text: 'no differences' }));
    if (d.truncated)
      main.appendChild(el('p', { class: 'note', text: 'only the first ' + d.changes.length + ' changes are listed' }));
  }

  async function showPlots() {
    title('Plots');
    const box = el('div', { id: 'plots' });
    main.appendChild(box);
    const d = await api('plots');
    RepoPlots.render(box, d);
    document.body.setAttribute('data-plots-ready', String(d.snapshots.time.length));
  }

  async function render() {
    const hash = location.hash.replace(/^#\/?/, '');
    const q = hash.indexOf('?');
    const name = q < 0 ? hash : hash.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
    main.textContent = '';
    document.body.removeAttribute('data-ready');
    for (const a of document.querySelectorAll('header nav a'))
      a.classList.toggle('active', a.getAttribute('href') === '#/' + name);
    try {
      if (name === 'browse') await showBrowse(params);
      else if (name === 'diff') await showDiff(params);
      else if (name === 'plots') await showPlots();
      else await showTimeline();
    } catch (err) {
      failure(err);
    }
    document.body.setAttribute('data-ready', name || 'timeline');
  }

  window.addEventListener('hashchange', render);
  render();
})();
