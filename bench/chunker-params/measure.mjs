#!/usr/bin/env node
// Measures deduplication of candidate FastCDC parameters (min/avg/max) on real data: successive npm releases.
// Never writes inside the repository: downloads and caches under the OS temp dir (or --cache).
//
// Usage (from the repository root, after `npm install`; plain Node ESM, no build):
//
//   node bench/chunker-params/measure.mjs [--package typescript] [--versions 5.6.2,5.6.3,...]
//        [--params 64K/256K/1M,256K/1M/4M,...] [--cache DIR] [--json out.json]
//
// What it does:
//   1. `npm pack PACKAGE@VERSION` for each version into the cache dir (skipped when cached).
//   2. Gunzips each .tgz to its .tar (kept in memory) and parses the tar to get the files.
//   3. For every parameter set and for two datasets:
//        files - every release's regular files, each file chunked on its own, files in sorted
//                path order, releases in the given order (models backing up a source tree
//                that is updated between backups);
//        tars  - each release's uncompressed .tar chunked as one big file (models backing up
//                archives / dumps, where content-defined boundaries have to resynchronise);
//      it chunks with fastcdc-wasm exactly as src/chunker does (one call per file gives the same
//      cut points as the streaming chunker), dedupes by BLAKE3 of the chunk, and compresses each
//      unique chunk with zstd level 3 (kept raw if that is not smaller, as the format says).
//   4. Prints a table per dataset:
//        chunks      all chunks (= blob references in trees)
//        unique      distinct chunks (= data blobs stored)
//        mean        logical bytes / chunks
//        =max%       share of chunks cut at exactly max (no content-defined cut found)
//        logical     bytes of input; unique = bytes of distinct chunks; dedupe = logical/unique
//        zstd        sum of per-chunk zstd-3 sizes of the distinct chunks
//        +ovh        zstd plus 88 bytes per blob (40 encryption + 48 pack header entry)
//        index       ~60 bytes per unique blob (in-memory/on-disk index estimate)
//        per-rel     stored bytes (zstd + ovh) added by each release after the first, averaged:
//                    what one incremental backup uploads
//        big%        share of logical bytes in files longer than min (only those can dedupe
//                    below file level; files <= min are always a single chunk)
//
// Runtime: about 15 s for the default 8 typescript releases (~185 MB) on 2 cores, plus the first
// download (~45 MB of tarballs). Results and the reasoning for the default: RESULTS.md beside this.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import fastcdc from 'fastcdc-wasm';
import blakeHash from '@napi-rs/blake-hash';
import zstd from 'zstd-napi';

const DEFAULT_PACKAGE = 'typescript';
// The 8 stable releases before 6.0 (fixed, so results reproduce as the registry grows).
const DEFAULT_VERSIONS = ['5.6.2', '5.6.3', '5.7.2', '5.7.3', '5.8.2', '5.8.3', '5.9.2', '5.9.3'];
const DEFAULT_PARAMS = [
  '16K/64K/256K',
  '64K/256K/1M',
  '128K/512K/2M', // the default (src/chunker/params.ts)
  '256K/512K/2M',
  '256K/1M/4M',
  '512K/1M/8M', // restic-like
  '1M/2M/8M',
  '2M/4M/8M', // kopia-like
];
const PER_BLOB_OVERHEAD = 40 + 48; // encryption (nonce + tag) + pack header entry
const INDEX_BYTES_PER_BLOB = 60;

const { values: opt } = parseArgs({
  options: {
    package: { type: 'string', default: DEFAULT_PACKAGE },
    versions: { type: 'string' },
    params: { type: 'string' },
    cache: { type: 'string', default: join(tmpdir(), 'chunker-params-cache') },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(
    readFileSync(new URL(import.meta.url))
      .toString()
      .split('\n\nimport ')[0] + '\n',
  );
  process.exit(0);
}
const versions = opt.versions
  ? opt.versions
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  : DEFAULT_VERSIONS;
const paramSets = (opt.params ? opt.params.split(',') : DEFAULT_PARAMS).map(parseParams);

function parseSize(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${JSON.stringify(s)} (want e.g. 512K, 1M, 65536)`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}

function parseParams(label) {
  const [min, avg, max] = label.split('/').map(parseSize);
  if (!(min >= 64 && avg >= 256 && max >= 1024 && min < avg && avg < max && max <= 64 * 1024 ** 2)) {
    throw new Error(`bad params ${label}: need 64 <= min < avg < max <= 64M, avg >= 256, max >= 1K`);
  }
  return { label, min, avg, max };
}

// ---------------------------------------------------------------- fetching and unpacking

function fetchTarball(pkg, version, cacheDir) {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, `${pkg.replace(/^@/, '').replace(/\//g, '-')}-${version}.tgz`);
  if (!existsSync(file)) {
    process.stderr.write(`npm pack ${pkg}@${version}\n`);
    const out = execFileSync('npm', ['pack', `${pkg}@${version}`, '--json', '--pack-destination', cacheDir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const got = join(cacheDir, JSON.parse(out)[0].filename);
    if (got !== file) throw new Error(`npm pack wrote ${got}, expected ${file}`);
  }
  return file;
}

function cstr(buf, start, len) {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end === -1 || end > start + len ? start + len : end);
}

/** Regular files of a ustar/pax tar (as npm writes them): [{ path, data }] with data a view into `tar`. */
function tarFiles(tar) {
  const files = [];
  let off = 0;
  let paxPath;
  let longName;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h[0] === 0 && h.every((b) => b === 0)) break;
    const size = parseInt(cstr(h, 124, 12).trim() || '0', 8);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      for (const rec of data.toString('utf8').split('\n')) {
        const m = /^\d+ path=(.*)$/.exec(rec);
        if (m) paxPath = m[1];
      }
      continue;
    }
    if (type === 'g') continue;
    if (type === 'L') {
      longName = cstr(data, 0, size);
      continue;
    }
    const prefix = h.toString('latin1', 257, 262) === 'ustar' ? cstr(h, 345, 155) : '';
    const name = cstr(h, 0, 100);
    const path = paxPath ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    paxPath = longName = undefined;
    if (type === '0' || type === '7') files.push({ path, data });
  }
  return files;
}

// ---------------------------------------------------------------- measuring

function blake3Key(chunk) {
  return blakeHash.blake3(chunk).toString('latin1');
}

/**
 * inputs: array of releases, each an array of Buffers (files, or one tar), chunked one by one.
 * Returns the table row for `p`.
 */
function measure(inputs, p) {
  const seen = new Set();
  let chunks = 0;
  let unique = 0;
  let logical = 0;
  let uniqueBytes = 0;
  let zstdBytes = 0;
  let bigBytes = 0;
  let storedAfterFirst = 0;
  let maxChunk = 0;
  let atMax = 0;
  for (let r = 0; r < inputs.length; r++) {
    for (const input of inputs[r]) {
      logical += input.length;
      if (input.length > p.min) bigBytes += input.length;
      if (input.length === 0) continue;
      const cuts = fastcdc.get_chunks(input, p.min, p.avg, p.max);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const chunk = input.subarray(cuts[i], cuts[i + 1]);
        chunks++;
        if (chunk.length > maxChunk) maxChunk = chunk.length;
        if (chunk.length === p.max) atMax++;
        const key = blake3Key(chunk);
        if (seen.has(key)) continue;
        seen.add(key);
        unique++;
        uniqueBytes += chunk.length;
        const z = Math.min(zstd.compress(chunk, { compressionLevel: 3 }).length, chunk.length);
        zstdBytes += z;
        if (r > 0) storedAfterFirst += z + PER_BLOB_OVERHEAD;
      }
    }
  }
  if (maxChunk > p.max) throw new Error(`chunk of ${maxChunk} bytes > max ${p.max}`);
  return {
    params: p.label,
    min: p.min,
    avg: p.avg,
    max: p.max,
    chunks,
    unique,
    meanChunk: chunks ? logical / chunks : 0,
    atMaxShare: chunks ? atMax / chunks : 0,
    logical,
    uniqueBytes,
    dedupe: uniqueBytes ? logical / uniqueBytes : 0,
    zstdBytes,
    storedBytes: zstdBytes + unique * PER_BLOB_OVERHEAD,
    indexBytes: unique * INDEX_BYTES_PER_BLOB,
    perRelease: inputs.length > 1 ? storedAfterFirst / (inputs.length - 1) : 0,
    bigShare: logical ? bigBytes / logical : 0,
  };
}

const MB = (n) => (n / 1e6).toFixed(1);
const KiB = (n) => `${Math.round(n / 1024)}K`;

function printTable(title, rows) {
  const cols = [
    ['params', (r) => r.params],
    ['chunks', (r) => String(r.chunks)],
    ['unique', (r) => String(r.unique)],
    ['mean', (r) => KiB(r.meanChunk)],
    ['=max%', (r) => (100 * r.atMaxShare).toFixed(0)],
    ['logical MB', (r) => MB(r.logical)],
    ['unique MB', (r) => MB(r.uniqueBytes)],
    ['dedupe', (r) => r.dedupe.toFixed(2)],
    ['zstd MB', (r) => MB(r.zstdBytes)],
    ['+ovh MB', (r) => MB(r.storedBytes)],
    ['index KB', (r) => (r.indexBytes / 1e3).toFixed(1)],
    ['per-rel MB', (r) => MB(r.perRelease)],
    ['big%', (r) => (100 * r.bigShare).toFixed(1)],
  ];
  const cells = [cols.map(([h]) => h), ...rows.map((r) => cols.map(([, f]) => f(r)))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) =>
    '| ' + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(`\n${title}\n`);
  console.log(line(cells[0]));
  console.log(
    '|' + widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|') + '|',
  );
  for (const row of cells.slice(1)) console.log(line(row));
}

// ---------------------------------------------------------------- main

const t0 = performance.now();
const releases = versions.map((v) => {
  const tar = gunzipSync(readFileSync(fetchTarball(opt.package, v, opt.cache)));
  const files = tarFiles(tar).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { version: v, tar, files };
});
const nFiles = releases.reduce((n, r) => n + r.files.length, 0);
const fileBytes = releases.reduce((n, r) => n + r.files.reduce((m, f) => m + f.data.length, 0), 0);
console.log(
  `${opt.package} ${versions.join(', ')}: ${nFiles} files, ${MB(fileBytes)} MB of file content, ` +
    `${MB(releases.reduce((n, r) => n + r.tar.length, 0))} MB of .tar`,
);
const sizes = releases.flatMap((r) => r.files.map((f) => f.data.length)).sort((a, b) => a - b);
console.log(
  `file sizes: median ${KiB(sizes[sizes.length >> 1])}, 90th pct ${KiB(sizes[Math.floor(sizes.length * 0.9)])}, ` +
    `largest ${KiB(sizes[sizes.length - 1])}`,
);

const results = { package: opt.package, versions, files: [], tars: [] };
for (const p of paramSets) {
  results.files.push(
    measure(
      releases.map((r) => r.files.map((f) => f.data)),
      p,
    ),
  );
  results.tars.push(
    measure(
      releases.map((r) => [r.tar]),
      p,
    ),
  );
  process.stderr.write(`measured ${p.label} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
}
printTable(`files: each file of each release chunked on its own (${opt.package})`, results.files);
printTable(`tars: each release's uncompressed .tar chunked as one file (${opt.package})`, results.tars);
console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2) + '\n');
