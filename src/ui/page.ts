// The HTML of `repo ui` (a shell that loads its script and style from /assets/) and of `repo report --html`
// (one self-contained file: chart library, script, style and data inlined, so it opens offline).
// Data is embedded only as JSON with "<" escaped, so no string from a repository can close the script element.

import { asset } from './assets.js';
import type { PlotData } from './plot-data.js';

const HEAD = `<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`;

export function pageHtml(opts: { allowRestore: boolean }): string {
  return `<!doctype html>
<html lang="en"><head>${HEAD}<title>repo ui</title>
<link rel="stylesheet" href="/assets/uplot.css"><link rel="stylesheet" href="/assets/app.css"></head>
<body data-allow-restore="${opts.allowRestore}">
<header><h1>repo</h1><nav><a href="#/">Snapshots</a><a href="#/plots">Plots</a><a href="#/diff">Diff</a></nav></header>
<main id="main"></main>
<script src="/assets/uplot.js"></script><script src="/assets/plots.js"></script><script src="/assets/app.js"></script>
</body></html>
`;
}

/** JSON safe inside a <script> element: "<" (and the line separators JavaScript once refused) escaped. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A script's text safe inside a <script> element (a library never holds "</script", but make sure). */
function inlineScript(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1');
}

export function reportHtml(data: PlotData): string {
  const period = data.since === undefined ? 'all time' : `since ${data.since}`;
  return `<!doctype html>
<html lang="en"><head>${HEAD}<title>repo report: ${escapeHtml(data.repository)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<style>${asset('uplot.css')}</style><style>${asset('app.css')}</style></head>
<body>
<header><h1>repo report</h1><span>${escapeHtml(data.repository)} · ${escapeHtml(period)} · generated ${escapeHtml(data.generated)}</span></header>
<main id="plots"></main>
<script>${inlineScript(asset('uplot.js'))}</script>
<script>${inlineScript(asset('plots.js'))}</script>
<script>
RepoPlots.render(document.getElementById('plots'), ${scriptJson(data)});
document.body.setAttribute('data-plots-ready', 'true');
</script>
</body></html>
`;
}
