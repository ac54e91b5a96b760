#!/usr/bin/env node
// Measures zstd levels, context reuse and early skipping of incompressible blobs on backup-like data.
// Never writes inside the repository; datasets are read (or made) under the OS temp dir.
//
// Usage (from the repository root, after `npm ci`; plain Node ESM, no build needed):
//
//   node bench/compression-levels/measure.mjs [--datasets kernel,npm,binaries,compressed,random,hex,pgdump,sqlmix]
//        [--kernel DIR] [--kernel-mb 200] [--pgdump FILE] [--reps 3] [--quick] [--dist DIR] [--json out.json]
//
// What it does:
//   1. Loads each dataset into memory and cuts every file into chunks exactly as the repository does
//      (fastcdc-wasm, one call per file, default 128K/512K/2M); every chunk is one blob.
//        kernel   - Linux source files (default /tmp/kernel-src; when absent and /usr/src/linux-source-6.1.tar.xz
//                   exists, a subset of it is unpacked there), files in sorted path order, up to --kernel-mb MiB
//        npm      - this repository's node_modules (JS, JSON, maps, a few native binaries), up to 150 MiB
//        binaries - ELF files (each at most 16 MiB) from /usr/bin, then /usr/lib/x86_64-linux-gnu, up to 100 MiB
//        compressed - .deb files from /var/cache/apt/archives and .jar files from ~/.m2, 48 MiB each (already
//                   compressed: xz/gz members, deflated zip entries with some stored entries and headers)
//        random   - 64 MiB of crypto random bytes as one file (incompressible)
//        pgdump   - a plain-text pg_dump of a pgbench database: --pgdump FILE, else /tmp/pgdump-bench/db.sql,
//                   else a synthetic file in the same format (pgbench_accounts rows + history)
//        sqlmix   - a synthetic, seeded, realistic-looking SQL dump (users, orders, free-text comments,
//                   hex tokens, timestamps), 48 MiB; compresses about 3x, so levels differ visibly
//        hex      - 32 MiB of random bytes written as hex digits: no repeats, only entropy coding shrinks it
//                   (the case where a sample at a fast level could wrongly look incompressible)
//   2. For each dataset and each compressor configuration, compresses every blob (single thread) and reports
//        stored    sum over blobs of min(compressed, raw) (the format stores a blob raw when zstd does not
//                  shrink it), as a share of raw bytes, and relative to today's rule (zstd 3, one-shot)
//        c MB/s    raw bytes / process CPU seconds (user + system) of the compress loop, best of --reps
//        d MB/s    raw bytes / CPU seconds to decompress every compressed blob (zstd-napi decompress())
//      Configurations:
//        oneshot L  zstd-napi `compress(buf, {compressionLevel: L})` - what compressBlob does today
//        ctx L      one zstd-napi binding CCtx per thread + one reusable output buffer of compressBound(2 MiB),
//                   CCtx.compress(dst, src, L), result copied out only when it is kept
//        ctx 3 +p   ctx 3 with a zstd parameter overridden (window/hash/chain/minMatch), to look for a
//                   cheaper level-3-like setting
//   3. Early skip rules on top of `ctx 3`: compress a sample of the blob at level 1 into the scratch buffer
//      and store the blob raw, without compressing it, when the sample does not shrink below a threshold.
//      Reports stored size (false skips cost size) and CPU, and how many blobs/bytes were skipped.
//      With --dist DIR (default: dist/ of this repository, if built) it also runs the repository's own
//      compressBlob(blob, 3) from DIR/repository/compression.js, i.e. the rule as implemented.
//   4. Extras: the three ways to call zstd 3 (zstd-napi compress(), CCtx.compress, CCtx.compress2) on the
//      first 60 MiB of the kernel and npm blobs, 7 interleaved reps (steadier than the tables); today's
//      one-shot path vs the reused context on random data in a fresh process (where the per-blob output
//      allocation hurts most); and level 19 ('max') with and without the skip on random and compressed data.
//
// Runtime: about 5 minutes of one core with --reps 3 (the default), 7 with --reps 5; --quick takes ~20 s.
// CPU figures move by +-10 % when other work shares the machine; the sizes are exact and repeatable.
// Results and the decision: RESULTS.md beside this file.

import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { prng } from '../lib/fsutil.mjs';
import fastcdc from 'fastcdc-wasm';
import zstd from 'zstd-napi';

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding');

const ROOT = new URL('../../', import.meta.url).pathname;
const CHUNKER = { min: 131_072, avg: 524_288, max: 2_097_152 };
const MiB = 1024 * 1024;

const { values: opt } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'kernel,npm,binaries,compressed,random,hex,pgdump,sqlmix' },
    kernel: { type: 'string', default: '/tmp/kernel-src' },
    'kernel-mb': { type: 'string', default: '200' },
    'cold-child': { type: 'string' },
    pgdump: { type: 'string' },
    reps: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    dist: { type: 'string', default: join(ROOT, 'dist') },
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
const REPS = Math.max(1, Number(opt.reps));
const SCALE = opt.quick ? 0.2 : 1;

// ---------------------------------------------------------------------------------------------- datasets

function walk(dir, out, cap, state = { bytes: 0 }, accept = () => true) {
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return state;
  }
  for (const n of names) {
    if (state.bytes >= cap) break;
    const p = join(dir, n);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, out, cap, state, accept);
    else if (st.isFile() && st.size > 0) {
      try {
        if (!accept(p)) continue;
        const b = readFileSync(p);
        out.push(b);
        state.bytes += b.length;
      } catch {
        /* unreadable: skip */
      }
    }
  }
  return state;
}

function kernelFiles() {
  const dir = opt.kernel;
  if (!existsSync(dir) || readdirSync(dir).length === 0) {
    const tarball = '/usr/src/linux-source-6.1.tar.xz';
    if (!existsSync(tarball)) return null;
    mkdirSync(dir, { recursive: true });
    const parts = [
      'kernel',
      'fs',
      'net',
      'include',
      'Documentation',
      'drivers/net',
      'drivers/gpu/drm/i915',
      'arch/x86',
      'mm',
      'lib',
      'tools/perf',
    ];
    log(`  unpacking a subset of ${tarball} into ${dir}`);
    execFileSync('tar', ['-xJf', tarball, '-C', dir, ...parts.map((p) => `linux-source-6.1/${p}`)], {
      stdio: 'inherit',
    });
  }
  const files = [];
  walk(dir, files, Number(opt['kernel-mb']) * MiB * SCALE);
  return files;
}

function isElf(path) {
  const b = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === '\x7fELF';
  } finally {
    closeSync(fd);
  }
}

function binaryFiles() {
  const files = [];
  const state = { bytes: 0 };
  // At most 16 MiB per file, so that a few huge libraries (LLVM) do not make up the whole set.
  const accept = (p) => lstatSync(p).size <= 16 * MiB && isElf(p);
  for (const d of ['/usr/bin', '/usr/lib/x86_64-linux-gnu']) walk(d, files, 100 * MiB * SCALE, state, accept);
  return files;
}

/** Already-compressed files: Debian packages (ar of xz/gz members) and Java archives (zip, deflate). */
function compressedFiles() {
  const files = [];
  const debs = { bytes: 0 };
  walk('/var/cache/apt/archives', files, 48 * MiB * SCALE, debs, (p) => p.endsWith('.deb'));
  const jars = { bytes: 0 };
  walk(join(process.env.HOME ?? '/root', '.m2', 'repository'), files, 48 * MiB * SCALE, jars, (p) =>
    p.endsWith('.jar'),
  );
  return files;
}

/** Random bytes written as lowercase hex: no repeats for zstd to find, only entropy coding (about 2x). */
function hexText(bytes) {
  return Buffer.from(randomBytes(bytes / 2).toString('hex'));
}

function syntheticPgbench(bytes) {
  const r = prng(42);
  const parts = [
    '--\n-- PostgreSQL database dump\n--\n\nCOPY public.pgbench_accounts (aid, bid, abalance, filler) FROM stdin;\n',
  ];
  let n = parts[0].length;
  const filler = ' '.repeat(84);
  for (let aid = 1; n < bytes * 0.97; aid++) {
    const bal = r() < 0.02 ? Math.floor((r() - 0.5) * 10000) : 0;
    const line = `${aid}\t${1 + Math.floor((aid - 1) / 100000)}\t${bal}\t${filler}\n`;
    parts.push(line);
    n += line.length;
  }
  parts.push('\\.\n\nCOPY public.pgbench_history (tid, bid, aid, delta, mtime, filler) FROM stdin;\n');
  for (let i = 0; n < bytes; i++) {
    const line = `${1 + Math.floor(r() * 40)}\t${1 + Math.floor(r() * 4)}\t${1 + Math.floor(r() * 400000)}\t${Math.floor((r() - 0.5) * 10000)}\t2025-12-02 05:05:${String(Math.floor(r() * 60)).padStart(2, '0')}.${String(Math.floor(r() * 1e6)).padStart(6, '0')}\t\\N\n`;
    parts.push(line);
    n += line.length;
  }
  parts.push('\\.\n');
  return Buffer.from(parts.join(''));
}

function pgdumpFiles() {
  const candidates = [opt.pgdump, '/tmp/pgdump-bench/db.sql'].filter(Boolean);
  for (const c of candidates) if (existsSync(c)) return { files: [readFileSync(c)], note: c };
  return { files: [syntheticPgbench(40 * MiB * SCALE)], note: 'synthetic pgbench-format dump' };
}

function sqlmix(bytes) {
  const r = prng(7);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const first = [
    'James',
    'Mary',
    'Robert',
    'Patricia',
    'John',
    'Jennifer',
    'Michael',
    'Linda',
    'David',
    'Elizabeth',
    'Wei',
    'Fatima',
    'Olga',
    'Hiroshi',
    'Ana',
    'Kwame',
    'Priya',
    'Lars',
    'Sofia',
    'Mateo',
  ];
  const last = [
    'Smith',
    'Johnson',
    'Williams',
    'Brown',
    'Jones',
    'Garcia',
    'Miller',
    'Davis',
    'Rodriguez',
    'Martinez',
    'Nguyen',
    'Kowalski',
    'Tanaka',
    'Okafor',
    'Schmidt',
    'Rossi',
    'Dubois',
    'Silva',
    'Kim',
    'Patel',
  ];
  const domains = ['example.com', 'mail.example.org', 'corp.example.net', 'gmail.com', 'yahoo.co.jp', 'posteo.de'];
  const words =
    'the a order delivery late customer support refund package damaged please contact again thanks great quality would buy recommend size color wrong item missing box invoice address changed shipping fast slow service product warranty return exchange'.split(
      ' ',
    );
  const status = ['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'];
  const hex = (n) => {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(r() * 16)];
    return s;
  };
  const ts = () =>
    `20${20 + Math.floor(r() * 6)}-${String(1 + Math.floor(r() * 12)).padStart(2, '0')}-${String(1 + Math.floor(r() * 28)).padStart(2, '0')} ${String(Math.floor(r() * 24)).padStart(2, '0')}:${String(Math.floor(r() * 60)).padStart(2, '0')}:${String(Math.floor(r() * 60)).padStart(2, '0')}.${String(Math.floor(r() * 1e6)).padStart(6, '0')}+00`;
  const parts = [];
  let n = 0;
  const push = (s) => (parts.push(s), (n += s.length));
  push("--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n");
  let uid = 1;
  let oid = 1;
  while (n < bytes) {
    push(
      'COPY public.users (id, email, first_name, last_name, created_at, api_token, country, is_active) FROM stdin;\n',
    );
    for (let i = 0; i < 20000 && n < bytes; i++, uid++) {
      const f = pick(first);
      const l = pick(last);
      push(
        `${uid}\t${f.toLowerCase()}.${l.toLowerCase()}${Math.floor(r() * 1000)}@${pick(domains)}\t${f}\t${l}\t${ts()}\t${hex(32)}\t${pick(['US', 'DE', 'JP', 'BR', 'IN', 'FR', 'NG', 'PL'])}\t${r() < 0.9 ? 't' : 'f'}\n`,
      );
    }
    push('\\.\n\nCOPY public.orders (id, user_id, total_cents, currency, status, placed_at, note) FROM stdin;\n');
    for (let i = 0; i < 40000 && n < bytes; i++, oid++) {
      const note = r() < 0.4 ? Array.from({ length: 4 + Math.floor(r() * 20) }, () => pick(words)).join(' ') : '\\N';
      push(
        `${oid}\t${1 + Math.floor(r() * uid)}\t${Math.floor(r() * 100000)}\t${pick(['USD', 'EUR', 'JPY'])}\t${pick(status)}\t${ts()}\t${note}\n`,
      );
    }
    push('\\.\n\n');
  }
  return Buffer.from(parts.join(''));
}

// Each loader returns a list of files (Buffers); every file is chunked on its own.
const LOADERS = {
  kernel: () => {
    const f = kernelFiles();
    return f ? { files: f, note: `${opt.kernel}, sorted, first ${opt['kernel-mb']} MiB` } : null;
  },
  npm: () => {
    const files = [];
    walk(join(ROOT, 'node_modules'), files, 150 * MiB * SCALE);
    return { files, note: "this repository's node_modules" };
  },
  binaries: () => ({ files: binaryFiles(), note: 'ELF files from /usr/lib/x86_64-linux-gnu, /usr/bin' }),
  random: () => ({ files: [randomBytes(64 * MiB * SCALE)], note: 'crypto random bytes, one file' }),
  pgdump: pgdumpFiles,
  sqlmix: () => ({ files: [sqlmix(48 * MiB * SCALE)], note: 'synthetic SQL dump (seeded)' }),
  compressed: () => ({
    files: compressedFiles(),
    note: '.deb files from /var/cache/apt/archives and .jar files from ~/.m2 (already compressed)',
  }),
  hex: () => ({
    files: [hexText(32 * MiB * SCALE)],
    note: 'random bytes as hex text (compressible only by entropy coding)',
  }),
};

function chunk(files) {
  const blobs = [];
  const seen = new Set();
  let dups = 0;
  for (const f of files) {
    const cuts = fastcdc.get_chunks(f, CHUNKER.min, CHUNKER.avg, CHUNKER.max);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const c = f.subarray(cuts[i], cuts[i + 1]);
      // Deduplicate as the repository would (each distinct chunk is compressed once).
      const h = createHash('sha256').update(c).digest('base64');
      if (seen.has(h)) {
        dups++;
        continue;
      }
      seen.add(h);
      blobs.push(c);
    }
  }
  return { blobs, dups };
}

// ------------------------------------------------------------------------------------------ compressors

const cctx = new binding.CCtx();
const pctx = new binding.CCtx();
const dctx = new binding.DCtx();
let scratch = Buffer.allocUnsafeSlow(binding.compressBound(CHUNKER.max));
function scratchFor(n) {
  const need = binding.compressBound(n);
  if (scratch.length < need) scratch = Buffer.allocUnsafeSlow(need);
  return scratch;
}

/** Today's compressBlob: one-shot zstd-napi `compress(buf, {compressionLevel})`; null = stored raw. */
function oneshot(level) {
  return (b) => {
    const z = zstd.compress(b, { compressionLevel: level });
    return z.length < b.length ? z : null;
  };
}

/** Reused CCtx + reused output buffer; the frame is copied out only when it is kept. */
function ctx(level) {
  return (b) => {
    const dst = scratchFor(b.length);
    const n = cctx.compress(dst, b, level);
    return n < b.length ? Buffer.from(dst.subarray(0, n)) : null;
  };
}

/** Reused CCtx with parameters (compress2), e.g. level 3 with a smaller hash table. */
function ctxParams(params) {
  return (b) => {
    pctx.reset(binding.ResetDirective.parameters);
    for (const [k, v] of Object.entries(params)) pctx.setParameter(binding.CParameter[k], v);
    const dst = scratchFor(b.length);
    const n = pctx.compress2(dst, b);
    return n < b.length ? Buffer.from(dst.subarray(0, n)) : null;
  };
}

/**
 * Early skip: a blob of at least `minBlob` bytes is stored raw, without being compressed, when each of
 * `samples` slices of `size` bytes (spread evenly: start, ..., end) compressed at level `sampleLevel`
 * keeps at least `threshold` of its length. Stops at the first sample that shrinks more (then compresses
 * the whole blob). With samples = 1 it is a prefix test.
 */
function skipRule({ size, samples, threshold, sampleLevel = 1, minBlob = 64 * 1024, level = 3 }) {
  const full = ctx(level);
  const rule = (b) => {
    if (b.length < minBlob) return false;
    const dst = scratchFor(size);
    for (let i = 0; i < samples; i++) {
      const at = samples === 1 ? 0 : Math.floor(((b.length - size) * i) / (samples - 1));
      const s = b.subarray(at, at + size);
      if (cctx.compress(dst, s, sampleLevel) < threshold * s.length) return false;
    }
    return true;
  };
  const f = (b) => (rule(b) ? null : full(b));
  f.rule = rule;
  return f;
}

const LEVEL_CONFIGS = [
  ['oneshot 3 (today)', oneshot(3)],
  ['ctx -5', ctx(-5)],
  ['ctx -1', ctx(-1)],
  ['ctx 1', ctx(1)],
  ['ctx 2', ctx(2)],
  ['ctx 3', ctx(3)],
  ['ctx 4', ctx(4)],
  ['ctx 3 +hashLog 15', ctxParams({ compressionLevel: 3, hashLog: 15 })],
  ['ctx 3 +chainLog 14', ctxParams({ compressionLevel: 3, chainLog: 14 })],
  ['ctx 3 +minMatch 6', ctxParams({ compressionLevel: 3, minMatch: 6 })],
];

/** The repository's compressBlob (auto = level 3), from a build, if there is one. */
let implemented = null;
const distModule = join(opt.dist, 'repository', 'compression.js');
if (existsSync(distModule)) {
  const mod = await import(distModule);
  if (mod.looksIncompressible) {
    implemented = (b) => {
      const s = mod.compressBlob(b, 3);
      return s.compression === 1 ? s.data : null;
    };
    implemented.rule = mod.looksIncompressible;
  }
}

const SKIP_CONFIGS = [
  ['prefix 4K <0.97', { size: 4096, samples: 1, threshold: 0.97 }],
  ['prefix 16K <0.97', { size: 16384, samples: 1, threshold: 0.97 }],
  ['3x4K all <0.97', { size: 4096, samples: 3, threshold: 0.97 }],
  ['3x4K all <0.99', { size: 4096, samples: 3, threshold: 0.99 }],
  ['3x8K all <0.97', { size: 8192, samples: 3, threshold: 0.97 }],
  ['3x4K all <0.90', { size: 4096, samples: 3, threshold: 0.9 }],
];

// ---------------------------------------------------------------------------------------------- running

function cpuSeconds(fn) {
  const t = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1e6;
}

/**
 * Runs every config over every blob `REPS` times, configs interleaved within each rep (so that other
 * load on the machine hits them alike); keeps the best CPU time of each config and its first rep's frames.
 */
function runConfigs(blobs, configs) {
  const out = configs.map(() => ({ secs: Infinity, stored: 0, frames: null }));
  for (const [, f] of configs) f(blobs[0]); // warm up contexts and scratch
  for (let rep = 0; rep < REPS; rep++) {
    configs.forEach(([, f], c) => {
      const keep = rep === 0 ? new Array(blobs.length) : null;
      let stored = 0;
      const secs = cpuSeconds(() => {
        for (let i = 0; i < blobs.length; i++) {
          const z = f(blobs[i]);
          stored += z ? z.length : blobs[i].length;
          if (keep) keep[i] = z;
        }
      });
      const o = out[c];
      o.secs = Math.min(o.secs, secs);
      o.stored = stored;
      if (keep) o.frames = keep;
    });
  }
  return out;
}

/** CPU to decompress every kept frame: zstd-napi decompress() (today) or a reused DCtx into a buffer of the known size. */
function decompressMBs(blobs, frames, how) {
  let best = Infinity;
  let raw = 0;
  for (let rep = 0; rep < REPS; rep++) {
    raw = 0;
    const secs = cpuSeconds(() => {
      for (let i = 0; i < frames.length; i++) {
        const z = frames[i];
        if (!z) continue;
        let out;
        if (how === 'today') out = zstd.decompress(z);
        else {
          out = Buffer.allocUnsafe(blobs[i].length);
          if (dctx.decompress(out, z) !== out.length) throw new Error('short frame');
        }
        if (out.length !== blobs[i].length) throw new Error('bad round trip');
        raw += out.length;
      }
    });
    best = Math.min(best, secs);
  }
  return raw ? raw / MiB / best : NaN;
}

/**
 * The three ways to call zstd on the same blobs, interleaved over 7 reps (best kept): zstd-napi's one-shot
 * compress() (today), CCtx.compress(dst, src, level) (ZSTD_compressCCtx, what compressBlob now uses) and
 * CCtx.compress2(dst, src) with the level set once (ZSTD_compress2). Same frames, different per-call work.
 */
function callStyles(blobs) {
  const c1 = new binding.CCtx();
  const c2 = new binding.CCtx();
  c2.setParameter(binding.CParameter.compressionLevel, 3);
  const styles = [
    ['zstd-napi compress() (today)', (b) => zstd.compress(b, { compressionLevel: 3 }).length],
    ['CCtx.compress (ZSTD_compressCCtx)', (b) => c1.compress(scratchFor(b.length), b, 3)],
    ['CCtx.compress2 (ZSTD_compress2)', (b) => c2.compress2(scratchFor(b.length), b)],
  ];
  if (implemented)
    styles.push([
      'compressBlob(b, 3) from dist/ (ZSTD_compressCCtx + early skip + copy-out)',
      (b) => {
        const z = implemented(b);
        return z ? z.length : b.length;
      },
    ]);
  const best = styles.map(() => Infinity);
  const sizes = styles.map(() => 0);
  for (let rep = 0; rep < 7; rep++) {
    styles.forEach(([, f], i) => {
      let n = 0;
      best[i] = Math.min(
        best[i],
        cpuSeconds(() => {
          for (const b of blobs) n += f(b);
        }),
      );
      sizes[i] = n;
    });
  }
  return styles.map(([label], i) => ({ label, secs: best[i], bytes: sizes[i] }));
}

/** Today's one-shot path and the reused context on 64 MiB of random 512 KiB blobs in a fresh process, 3 passes. */
function coldChild(mode) {
  const r = randomBytes(64 * MiB);
  const f =
    mode === 'oneshot'
      ? (b) => zstd.compress(b, { compressionLevel: 3 })
      : (b) => cctx.compress(scratchFor(b.length), b, 3);
  const passes = [];
  for (let pass = 0; pass < 3; pass++) {
    const secs = cpuSeconds(() => {
      for (let i = 0; i < r.length; i += 512 * 1024) f(r.subarray(i, i + 512 * 1024));
    });
    passes.push(64 / secs);
  }
  process.stdout.write(JSON.stringify(passes));
}

function coldRuns(mode) {
  const out = execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--cold-child', mode], {
    encoding: 'utf8',
  });
  return JSON.parse(out);
}

function log(s) {
  process.stderr.write(s + '\n');
}

const pct = (x) => (100 * x).toFixed(2) + '%';
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');

if (opt['cold-child']) {
  coldChild(opt['cold-child']);
  process.exit(0);
}

const results = { zstd: binding.versionString(), node: process.version, chunker: CHUNKER, reps: REPS, datasets: [] };
const wanted = opt.datasets
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
console.log(
  `zstd ${results.zstd} (zstd-napi), Node ${process.version}, chunker 128K/512K/2M, best of ${REPS} interleaved reps, CPU = user + system of this process`,
);
for (const name of wanted) {
  const loader = LOADERS[name];
  if (!loader) throw new Error(`unknown dataset ${name}`);
  const loaded = loader();
  if (!loaded || loaded.files.length === 0) {
    log(`${name}: not available, skipped`);
    continue;
  }
  const { blobs, dups } = chunk(loaded.files);
  const raw = blobs.reduce((s, b) => s + b.length, 0);
  const small = blobs.filter((b) => b.length < 64 * 1024).length;
  const ds = {
    name,
    note: loaded.note,
    files: loaded.files.length,
    blobs: blobs.length,
    dups,
    raw,
    small,
    rows: [],
    skips: [],
  };
  results.datasets.push(ds);
  console.log(`\n## ${name}: ${loaded.note}`);
  console.log(
    `${loaded.files.length} files, ${blobs.length} distinct blobs (${dups} duplicates dropped), ${(raw / MiB).toFixed(1)} MiB, mean blob ${(raw / blobs.length / 1024).toFixed(1)} KiB, ${small} blobs < 64 KiB\n`,
  );

  const lv = runConfigs(blobs, LEVEL_CONFIGS);
  const today = lv[0];
  const c3 = lv[LEVEL_CONFIGS.findIndex(([l]) => l === 'ctx 3')];
  console.log('| config | stored/raw | size vs today | compress MB/s | CPU vs today | decompress MB/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  LEVEL_CONFIGS.forEach(([label], i) => {
    const m = lv[i];
    const plain = !label.includes('+');
    const d = plain ? decompressMBs(blobs, m.frames, 'today') : NaN;
    const row = {
      label,
      stored: m.stored,
      ratio: m.stored / raw,
      vsToday: m.stored / today.stored,
      cMBs: raw / MiB / m.secs,
      cpuVsToday: m.secs / today.secs,
      dMBs: d,
    };
    ds.rows.push(row);
    console.log(
      `| ${label} | ${pct(row.ratio)} | ${row.vsToday.toFixed(4)} | ${fmt(row.cMBs)} | ${row.cpuVsToday.toFixed(2)} | ${fmt(row.dMBs)} |`,
    );
  });
  const dToday = decompressMBs(blobs, c3.frames, 'today');
  const dCtx = decompressMBs(blobs, c3.frames, 'dctx');
  ds.decompress = { today: dToday, dctx: dCtx };
  console.log(
    `\nDecompress of the ctx 3 frames: zstd-napi decompress() ${fmt(dToday)} MB/s, reused DCtx into a buffer of the known raw length ${fmt(dCtx)} MB/s`,
  );

  const base = c3.frames.map((z, i) => (z ? z.length : blobs[i].length));
  const skipConfigs = [
    ['oneshot 3 (today)', oneshot(3)],
    ['ctx 3 (no skip)', ctx(3)],
    ...SKIP_CONFIGS.map(([l, p]) => [l, skipRule(p)]),
  ];
  if (implemented) skipConfigs.push(['compressBlob (dist/, auto)', implemented]);
  const sk = runConfigs(blobs, skipConfigs); // CPU vs today: against the oneshot row of this same run
  console.log(
    '\n| skip rule, then ctx 3 | size vs today | CPU vs today | sampling CPU vs ctx 3 | blobs skipped | MiB skipped | false-skip loss |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  skipConfigs.forEach(([label, f], c) => {
    const m = sk[c];
    let nSkip = 0;
    let bSkip = 0;
    let lost = 0;
    let ruleSecs = 0;
    if (f.rule) {
      for (let i = 0; i < blobs.length; i++) {
        if (!m.frames[i] && f.rule(blobs[i])) {
          nSkip++;
          bSkip += blobs[i].length;
          lost += blobs[i].length - base[i];
        }
      }
      ruleSecs = Infinity;
      for (let rep = 0; rep < REPS; rep++)
        ruleSecs = Math.min(
          ruleSecs,
          cpuSeconds(() => {
            for (const b of blobs) f.rule(b);
          }),
        );
    }
    const row = {
      label,
      stored: m.stored,
      vsToday: m.stored / today.stored,
      cpuVsToday: m.secs / sk[0].secs,
      sampling: ruleSecs / sk[1].secs,
      nSkip,
      bSkip,
      lost,
    };
    ds.skips.push(row);
    console.log(
      `| ${label} | ${row.vsToday.toFixed(4)} | ${row.cpuVsToday.toFixed(2)} | ${f.rule ? pct(row.sampling) : '-'} | ${nSkip} | ${(bSkip / MiB).toFixed(1)} | ${(lost / 1024).toFixed(1)} KiB (${pct(lost / today.stored)}) |`,
    );
  });

  if (name === 'kernel' || name === 'npm') {
    // The first 60 MiB of blobs, 7 interleaved reps: a steadier comparison of the call styles than above.
    const some = [];
    let n = 0;
    for (const b of blobs) if (n < 60 * MiB) (some.push(b), (n += b.length));
    ds.callStyles = callStyles(some).map((r) => ({ ...r, MBs: n / MiB / r.secs }));
    const t = ds.callStyles[0].secs;
    console.log(
      `\nzstd 3 call styles on the first ${(n / MiB).toFixed(1)} MiB of blobs (${some.length} blobs), best of 7 interleaved reps:\n`,
    );
    console.log('| call | compressed bytes | MB/s | CPU vs today |');
    console.log('|---|---:|---:|---:|');
    for (const r of ds.callStyles)
      console.log(`| ${r.label} | ${r.bytes} | ${fmt(r.MBs)} | ${(r.secs / t).toFixed(3)} |`);
  }
  if (name === 'random') {
    ds.cold = { oneshot: [coldRuns('oneshot'), coldRuns('oneshot')], ctx: [coldRuns('ctx'), coldRuns('ctx')] };
    const show = (runs) => runs.map((p) => p.map((x) => x.toFixed(0)).join('/')).join(', ');
    console.log(
      `\nFresh process, 64 MiB of random 512 KiB blobs at zstd 3, MB/s of passes 1/2/3 (two processes each): zstd-napi compress() ${show(ds.cold.oneshot)}; reused CCtx + buffer ${show(ds.cold.ctx)}`,
    );
  }
  if (name === 'random' || name === 'compressed') {
    // 'max' (zstd 19) on incompressible data, on the first 16 MiB of blobs only (level 19 is slow).
    const some = [];
    let n = 0;
    for (const b of blobs) if (n < 16 * MiB) (some.push(b), (n += b.length));
    const m19 = runConfigs(some, [
      ['oneshot 19', oneshot(19)],
      ['ctx 19', ctx(19)],
      ['3x4K skip + ctx 19', skipRule({ size: 4096, samples: 3, threshold: 0.97, level: 19 })],
    ]);
    ds.max = m19.map((m, i) => ({
      label: ['oneshot 19 (today)', 'ctx 19', '3x4K all <0.97 + ctx 19'][i],
      stored: m.stored,
      cMBs: n / MiB / m.secs,
    }));
    console.log(
      `\nLevel 19 ('max') on the first ${(n / MiB).toFixed(1)} MiB: ` +
        ds.max.map((r) => `${r.label} ${fmt(r.cMBs)} MB/s, stored ${pct(r.stored / n)}`).join('; '),
    );
  }
}
if (opt.json) writeFileSync(opt.json, JSON.stringify(results, null, 2));
