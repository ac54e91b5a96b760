#!/usr/bin/env node
// Page load of `repo ui` for a repository with many snapshots: from navigation to every chart drawn (the plots
// page) and to the timeline listed, in Debian's headless Chromium (playwright-core, no browser download).
// Usage: node bench/ui-load.mjs [SNAPSHOTS=1000] [RUNS=5]   (after npm run build; needs /usr/bin/chromium)
// UI_BENCH_REPO=DIR reuses (or, if missing, keeps) the repository made there instead of a temporary one.
// The snapshots are made cheaply in one process through the library: a tiny tree, one file changed per
// snapshot and a new small file every tenth, one hour apart.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const lib = await import(path.join(root, 'dist/index.js'));
const count = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 5);
const PW = 'ui bench password';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-ui-bench-'));
const src = path.join(tmp, 'src');
fs.mkdirSync(src);
const repoDir = process.env.UI_BENCH_REPO ?? path.join(tmp, 'repo');
const reuse = fs.existsSync(path.join(repoDir, 'config'));
const made = Date.now();
if (!reuse) await makeSnapshots();

async function makeSnapshots() {
  const backend = await lib.LocalBackend.createAt(repoDir);
  const repo = await lib.Repository.init(backend, PW, { kdf: lib.CHEAP_TEST_SCRYPT });
  const base = Date.now() - count * 3600_000;
  let parent;
  const cwd = process.cwd();
  process.chdir(tmp);
  for (let i = 0; i < count; i++) {
    fs.writeFileSync(path.join(src, 'counter.txt'), `snapshot ${i}\n`.repeat(1 + (i % 50)));
    if (i % 10 === 0) fs.writeFileSync(path.join(src, `f${i}.bin`), Buffer.alloc(4096 + i, i % 251));
    const r = await lib.backupPaths(repo, ['src'], {
      time: new Date(base + i * 3600_000),
      host: i % 3 === 0 ? 'laptop' : 'server',
      tags: i % 24 === 0 ? ['daily'] : [],
      parent,
    });
    parent = { ...r.snapshot, id: r.snapshotId };
  }
  process.chdir(cwd);
  await repo.close();
}
if (!reuse) console.log(`made ${count} snapshots in ${((Date.now() - made) / 1000).toFixed(1)} s (${repoDir})`);

const env = { ...process.env, REPO_REPOSITORY: repoDir, REPO_PASSWORD: PW, REPO_STATE_DIR: path.join(tmp, 'state') };
const child = spawn(process.execPath, [path.join(root, 'dist/bundle/repo.js'), 'ui', '--no-cache'], {
  env,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
    const m = /open (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  child.on('exit', (code) => reject(new Error(`repo ui exited ${code}`)));
});
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
await page.goto(url);
await page.waitForSelector('body[data-ready="timeline"]', { timeout: 120_000 });
const pageBase = url.replace(/\/\?token=.*$/, '');

async function timed(hash, selector) {
  await page.goto('about:blank');
  const t0 = performance.now();
  await page.goto(`${pageBase}/${hash}`);
  await page.waitForSelector(selector, { timeout: 300_000 });
  return performance.now() - t0;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const plots = [];
const timeline = [];
let points;
for (let i = 0; i < runs; i++) {
  plots.push(await timed('#/plots', 'body[data-ready="plots"]'));
  points = await page.evaluate(() => window.__repoPlots?.growth?.data[0].length);
  timeline.push(await timed('#/', 'body[data-ready="timeline"]'));
}
console.log(`plots page (navigation → every chart drawn), ${points} points per series:`);
console.log(`  first (stats computed): ${plots[0].toFixed(0)} ms; median of ${runs}: ${median(plots).toFixed(0)} ms`);
console.log(`timeline page, median of ${runs}: ${median(timeline).toFixed(0)} ms`);
await browser.close();
child.kill('SIGTERM');
fs.rmSync(tmp, { recursive: true, force: true }); // UI_BENCH_REPO, if given, stays
