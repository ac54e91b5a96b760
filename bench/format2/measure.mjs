#!/usr/bin/env node
// Format 1 vs format 2 (issue 18): chunking throughput, dedupe ratio and the stored-size overhead of padding.
// Plain Node ESM over the built modules (run `npm run build` first); writes its output, the extracted kernel tree
// (once) and, with --json, a JSON file of the figures.
//
//   node bench/format2/measure.mjs [--gib 1] [--skip-throughput] [--datasets random,kernel,versions]
//        [--kernel-dir DIR] [--versions-dir DIR] [--secret LABEL] [--json FILE] [--chunk-sizes]
//
// 1. Throughput: the streaming chunkers (dist/chunker: fastcdc-wasm for format 1, the keyed gear chunker for
//    format 2, default sizes 128K/512K/2M) over N GiB of random bytes (AES-256-CTR) and N GiB of text-like bytes
//    (the uncompressed tar stream of Debian's linux-source-6.1, cycled if shorter), in 4 MiB reads. Reported as
//    MB/s of CPU time of this process (user + system: the machine is shared, wall time is not the chunker's)
//    and of wall time.
// 2. Dedupe: the bench datasets as bench/lib/datasets builds them (same bytes, same change), each version's
//    files chunked one by one with both chunkers:
//      random   - 16 files of 64 MiB (1 GiB, AES-256-CTR as bench's), then bench's change: 164 regions of 64 KiB
//                 (1 %) at bench's PRNG offsets overwritten in place;
//      kernel   - every regular file of linux-source-6.1 in sorted order, then bench's change: every 100th file
//                 (from the 38th) alternately appended to and only touched (touching changes no chunk);
//      versions - the typescript releases bench caches (~/.cache/repo-bench/versions/typescript), one after the
//                 other, each replacing the previous (skipped when none is cached; those found are named).
//    dedupe ratio = logical bytes of all versions / bytes of distinct chunks (BLAKE3 of the chunk); data blobs
//    only (trees are not counted). A file whose whole content was already chunked is not chunked again (the
//    chunkers are deterministic, so its chunks are known ones): it only adds its logical bytes.
// 3. Padding: over the distinct chunks of each dataset, the bytes sealed per blob (zstd-3 as `auto` stores them,
//    plus 40 bytes of nonce and tag) without and with format 2's padding (src/repository/blob-padding.ts, the
//    writer's code). A chunk's content is compressed once, whichever format cut it.
//
// Why the kernel run used to take hours on a loaded machine: it decompressed the 138 MB .tar.xz four times
// (two passes per format; a single-threaded xz child the script mostly waited for) and zstd-compressed every
// distinct chunk four times (sealed and padded, per format). Now the tree is extracted once into a directory
// that is reused (--kernel-dir, default /tmp/repo-format2-kernel), each file is read once and cut by both
// chunkers, and each distinct chunk is compressed once.

import { execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createChunker, DEFAULT_CHUNKER_PARAMS } from '../../dist/chunker/index.js';
import { blake3 } from '../../dist/crypto/blake3.js';
import { padBlob } from '../../dist/repository/blob-padding.js';
import { compressBlob } from '../../dist/repository/compression.js';
import { FULL as TYPESCRIPT_RELEASES } from '../lib/datasets/versions.mjs';
import { prng } from '../lib/fsutil.mjs';

const args = process.argv.slice(2);
const str = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const opt = (name, dflt) => Number(str(name, dflt));
const GIB = opt('--gib', 1);
const DATASETS = str('--datasets', 'random,kernel,versions').split(',');
const KERNEL_DIR = str('--kernel-dir', '/tmp/repo-format2-kernel');
const VERSIONS_DIR = str(
  '--versions-dir',
  join(homedir(), '.cache', 'repo-bench', 'versions', TYPESCRIPT_RELEASES.pkg),
);
const JSON_OUT = str('--json', undefined);
const TARBALL = '/usr/src/linux-source-6.1.tar.xz';
const SEAL = 40;
const { min, avg, max } = DEFAULT_CHUNKER_PARAMS;
const f1 = { algorithm: 'fastcdc-ronomon', min, avg, max };
// --secret LABEL: format 2's chunker secret is SHA-256(LABEL) (default "bench"); another label, other cut points.
const SECRET_LABEL = str('--secret', 'bench');
const f2 = { algorithm: 'gear-keyed', min, avg, max, secret: createHash('sha256').update(SECRET_LABEL).digest('hex') };

function keystream(label, iv = Buffer.alloc(16)) {
  const key = createHash('sha256').update(`repo-bench ${label}`).digest();
  return createCipheriv('aes-256-ctr', key, iv);
}

/** The uncompressed tar stream of the kernel tarball, piece by piece (xz runs in a child process). */
async function* kernelTar() {
  const xz = spawn('xz', ['-dc', TARBALL], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    for await (const piece of xz.stdout) yield piece;
  } finally {
    xz.kill(); // the consumer may stop early
  }
}

async function* once(buf) {
  yield buf;
}

async function chunksOf(chunker, buf) {
  if (buf.length <= min) return buf.length === 0 ? [] : [buf];
  const out = [];
  for await (const c of chunker.chunks(once(buf))) out.push(c);
  return out;
}

function cpuSeconds(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

async function throughput(label, makePieces, bytes) {
  const rows = [];
  for (const [name, params] of [
    ['format 1', f1],
    ['format 2', f2],
    ['format 1', f1],
    ['format 2', f2],
  ]) {
    const chunker = createChunker(params);
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let n = 0;
    let total = 0;
    for await (const c of chunker.chunks(makePieces())) {
      n++;
      total += c.length;
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds(cpu0);
    rows.push({ name, cpu: total / cpu / 1e6, wall: total / wall / 1e6, mean: total / n });
    if (total !== bytes) throw new Error(`${label}: chunked ${total} of ${bytes} bytes`);
  }
  for (const r of rows)
    console.log(
      `${label.padEnd(10)} ${r.name}: ${r.cpu.toFixed(0)} MB/s CPU, ${r.wall.toFixed(0)} MB/s wall, mean chunk ${(r.mean / 1024).toFixed(0)} KiB`,
    );
}

/** One line on stderr at most every 10 s, so a long run shows where it is. */
let lastNote = 0;
function note(text) {
  const now = Date.now();
  if (now - lastNote < 10_000) return;
  lastNote = now;
  process.stderr.write(`  [${new Date(now).toISOString().slice(11, 19)}] ${text}\n`);
}

const results = {};

/**
 * Dedupe and padding figures for one dataset: `versions()` yields each version as an iterable of file
 * contents (Buffers), in backup order.
 */
async function dedupe(label, versions) {
  const formats = [
    { name: 'format 1', chunker: createChunker(f1), seen: new Set(), unique: 0, sealed: 0, padded: 0 },
    { name: 'format 2', chunker: createChunker(f2), seen: new Set(), unique: 0, sealed: 0, padded: 0 },
  ];
  const stored = new Map(); // chunk BLAKE3 → [sealed, padded] bytes: each distinct content compressed once
  const filesSeen = new Set(); // BLAKE3 of whole files already chunked
  let logical = 0;
  let files = 0;
  let distinctFiles = 0;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let v = 0;
  for await (const version of versions()) {
    v++;
    for await (const data of version) {
      files++;
      logical += data.length;
      note(`${label}: version ${v}, ${files} files, ${(logical / 2 ** 20).toFixed(0)} MiB`);
      const whole = blake3(data).toString('latin1');
      if (filesSeen.has(whole)) continue;
      filesSeen.add(whole);
      distinctFiles++;
      for (const f of formats) {
        for (const c of await chunksOf(f.chunker, data)) {
          const id = blake3(c).toString('latin1');
          if (f.seen.has(id)) continue;
          f.seen.add(id);
          f.unique += c.length;
          let s = stored.get(id);
          if (s === undefined) {
            const form = compressBlob(c, 3);
            s = [form.data.length + SEAL, padBlob(form.data, form.compression).data.length + SEAL];
            stored.set(id, s);
          }
          f.sealed += s[0];
          f.padded += s[1];
        }
      }
    }
  }
  const [a, b] = formats.map((f) => ({
    blobs: f.seen.size,
    uniqueBytes: f.unique,
    ratio: logical / f.unique,
    sealedBytes: f.sealed,
    paddedBytes: f.padded,
  }));
  const diff = (b.ratio / a.ratio - 1) * 100;
  const r = {
    versions: v,
    files,
    distinctFiles,
    logicalBytes: logical,
    'format 1': a,
    'format 2': b,
    dedupeDifferencePercent: diff,
    paddingOverheadPercent: (b.paddedBytes / b.sealedBytes - 1) * 100,
    cpuSeconds: cpuSeconds(cpu0),
    wallSeconds: (Date.now() - t0) / 1000,
  };
  results[label] = r;
  for (const [name, x] of [
    ['format 1', a],
    ['format 2', b],
  ]) {
    console.log(
      `${label.padEnd(10)} ${name}: ${x.blobs} distinct chunks, dedupe ${x.ratio.toFixed(4)} (${(logical / 2 ** 20).toFixed(0)} MiB / ${(x.uniqueBytes / 2 ** 20).toFixed(1)} MiB), ` +
        `sealed ${(x.sealedBytes / 2 ** 20).toFixed(1)} MiB` +
        (name === 'format 2'
          ? `, padded ${(x.paddedBytes / 2 ** 20).toFixed(1)} MiB (+${r.paddingOverheadPercent.toFixed(2)} %)`
          : ''),
    );
  }
  console.log(
    `${label.padEnd(10)} dedupe ratio format 2 vs format 1: ${diff >= 0 ? '+' : ''}${diff.toFixed(2)} % ` +
      `(${v} versions, ${files} files, ${distinctFiles} distinct; ${r.cpuSeconds.toFixed(0)} s CPU, ${r.wallSeconds.toFixed(0)} s wall)`,
  );
}

/** Regular files under `root`, relative, in sorted order (as bench/lib/datasets/kernel.mjs lists them). */
function listFiles(root) {
  const out = [];
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

// bench/lib/datasets/random.mjs: 16 files of 64 MiB, then 164 regions of 64 KiB overwritten in place.
const RANDOM_FILES = 16;
const RANDOM_FILE = 2 ** 30 / RANDOM_FILES;
const REGION = 64 * 1024;
const ivFor = (n) => {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(n, 0);
  return iv;
};
const randomV1 = (i) => keystream('random v1', ivFor(i)).update(Buffer.alloc(RANDOM_FILE));
/** bench's change, replayed: the same PRNG, the same keystream, the same order of writes. */
function randomChanges() {
  const rnd = prng(20240601);
  const c = keystream('random v2', ivFor(0));
  const zeros = Buffer.alloc(REGION);
  const out = [];
  for (let k = 0; k < Math.ceil((2 ** 30 * 0.01) / REGION); k++) {
    const file = Math.floor(rnd() * RANDOM_FILES);
    const off = Math.floor(rnd() * (RANDOM_FILE - REGION));
    out.push({ file, off, data: c.update(zeros) });
  }
  return out;
}

/** The kernel tree, extracted once (as bench does, without the top directory) and reused by later runs. */
function kernelTree() {
  if (existsSync(join(KERNEL_DIR, 'Makefile'))) return KERNEL_DIR;
  const tmp = `${KERNEL_DIR}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  process.stderr.write(`  extracting ${TARBALL} into ${KERNEL_DIR} (once)\n`);
  execFileSync('tar', ['xJf', TARBALL, '-C', tmp, '--no-same-owner', '--strip-components=1'], { stdio: 'inherit' });
  rmSync(KERNEL_DIR, { recursive: true, force: true });
  renameSync(tmp, KERNEL_DIR);
  return KERNEL_DIR;
}

if (!args.includes('--skip-throughput')) {
  const total = GIB * 2 ** 30;
  var randomBlock = keystream('throughput').update(Buffer.alloc(64 * 2 ** 20));
  await throughput(
    'random',
    async function* () {
      // 64 MiB of keystream made once and cycled: the cipher's time is not the chunker's.
      for (let done = 0; done < total; done += 4 * 2 ** 20) {
        const at = done % randomBlock.length;
        yield randomBlock.subarray(at, at + 4 * 2 ** 20);
      }
    },
    total,
  );
  if (existsSync(TARBALL)) {
    // Text-like: the first GiB of the kernel's tar stream, read once into memory (so xz is not timed).
    const parts = [];
    let have = 0;
    for await (const p of kernelTar()) {
      parts.push(p);
      have += p.length;
      if (have >= total) break;
    }
    const text = Buffer.concat(parts).subarray(0, Math.min(have, total));
    await throughput(
      'text',
      async function* () {
        for (let at = 0; at < text.length; at += 4 * 2 ** 20) yield text.subarray(at, at + 4 * 2 ** 20);
      },
      text.length,
    );
  }
}

// --chunk-sizes: the chunk-size statistics that set how much a random overwrite re-stores (a region lands in a chunk
// with probability proportional to its length, so the size-weighted mean Σl²/Σl counts), over 512 MiB of
// AES-256-CTR bytes, for format 1 and format 2 under six secrets.
if (args.includes('--chunk-sizes')) {
  const data = keystream('chunk sizes').update(Buffer.alloc(512 * 2 ** 20));
  const labels = ['s0', 's1', 's2', 's3', 's4', 's5'];
  for (const [name, params] of [
    ['format 1', f1],
    ...labels.map((l) => [`format 2 ${l}`, { ...f2, secret: createHash('sha256').update(l).digest('hex') }]),
  ]) {
    let n = 0;
    let s1 = 0;
    let s2 = 0;
    const pieces = async function* () {
      for (let at = 0; at < data.length; at += 4 * 2 ** 20) yield data.subarray(at, at + 4 * 2 ** 20);
    };
    for await (const c of createChunker(params).chunks(pieces())) {
      n++;
      s1 += c.length;
      s2 += c.length ** 2;
    }
    console.log(
      `sizes      ${name}: ${n} chunks, mean ${(s1 / n / 1024).toFixed(1)} KiB, size-weighted mean ${(s2 / s1 / 1024).toFixed(1)} KiB`,
    );
  }
}

if (DATASETS.includes('random')) {
  await dedupe('random', function* () {
    yield (function* () {
      for (let i = 0; i < RANDOM_FILES; i++) yield randomV1(i);
    })();
    const changes = randomChanges();
    yield (function* () {
      for (let i = 0; i < RANDOM_FILES; i++) {
        const data = randomV1(i);
        for (const ch of changes) if (ch.file === i) ch.data.copy(data, ch.off);
        yield data;
      }
    })();
  });
}

if (DATASETS.includes('kernel') && (existsSync(join(KERNEL_DIR, 'Makefile')) || existsSync(TARBALL))) {
  const root = kernelTree();
  const files = listFiles(root);
  await dedupe('kernel', function* () {
    yield (function* () {
      for (const f of files) yield readFileSync(join(root, f));
    })();
    // bench's change: every 100th file from index 37, alternately appended to (n even) and touched (n odd).
    yield (function* () {
      for (let i = 0; i < files.length; i++) {
        const data = readFileSync(join(root, files[i]));
        const n = (i - 37) / 100;
        yield i >= 37 && Number.isInteger(n) && n % 2 === 0
          ? Buffer.concat([data, Buffer.from(`\n/* repo-bench change ${n} */\n`)])
          : data;
      }
    })();
  });
}

if (DATASETS.includes('versions')) {
  const releases = TYPESCRIPT_RELEASES.versions.filter((v) => existsSync(join(VERSIONS_DIR, `${v}.complete`)));
  if (releases.length === 0) console.log(`versions   skipped: no release cached under ${VERSIONS_DIR}`);
  else {
    console.log(
      `versions   ${TYPESCRIPT_RELEASES.pkg} ${releases.join(', ')} (of ${TYPESCRIPT_RELEASES.versions.join(', ')})`,
    );
    await dedupe('versions', function* () {
      for (const v of releases) {
        const dir = join(VERSIONS_DIR, v);
        yield (function* () {
          for (const f of listFiles(dir)) yield readFileSync(join(dir, f));
        })();
      }
    });
    results.versions.releases = releases;
  }
}

if (JSON_OUT !== undefined) {
  writeFileSync(
    JSON_OUT,
    JSON.stringify(
      { date: new Date().toISOString(), chunker: { min, avg, max }, secretLabel: SECRET_LABEL, datasets: results },
      null,
      2,
    ) + '\n',
  );
}
