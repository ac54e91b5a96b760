#!/usr/bin/env node
// Format 1 vs format 2 (issue 18): chunking throughput, dedupe ratio and the stored-size overhead of padding.
// Plain Node ESM over the built modules (run `npm run build` first); writes nothing but its output.
//
//   node bench/format2/measure.mjs [--gib 1] [--kernel-mib 0] [--skip-throughput]
//
// 1. Throughput: the streaming chunkers (dist/chunker: fastcdc-wasm for format 1, the keyed gear chunker for
//    format 2, default sizes 128K/512K/2M) over N GiB of random bytes (AES-256-CTR) and N GiB of text-like bytes
//    (the uncompressed tar stream of Debian's linux-source-6.1, cycled if shorter), in 4 MiB reads. Reported as
//    MB/s of CPU time of this process (user + system: the machine is shared, wall time is not the chunker's)
//    and of wall time.
// 2. Dedupe: two bench datasets as bench/lib/datasets builds them, chunked file by file with both chunkers:
//      random - 16 files of 64 MiB (1 GiB), then 1 % of the bytes overwritten in 64 KiB regions;
//      kernel - every regular file of linux-source-6.1 in tar order, then every 100th file with a line
//               appended (bench's change appends to half of every 100th file in sorted order and touches the
//               other half; touching changes no chunk).
//    dedupe ratio = logical bytes of both versions / bytes of distinct chunks (BLAKE3 of the chunk).
// 3. Padding: over the distinct chunks of each dataset, the bytes sealed per blob (zstd-3 as `auto` stores them,
//    plus 40 bytes of nonce and tag) without and with format 2's padding (src/repository/blob-padding.ts).

import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createChunker, DEFAULT_CHUNKER_PARAMS } from '../../dist/chunker/index.js';
import { blake3 } from '../../dist/crypto/blake3.js';
import { storedForm } from '../../dist/repository/blob-padding.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : Number(args[i + 1]);
};
const GIB = opt('--gib', 1);
const KERNEL_MIB = opt('--kernel-mib', 0); // 0 = the whole tree
const TARBALL = '/usr/src/linux-source-6.1.tar.xz';
const SEAL = 40;
const { min, avg, max } = DEFAULT_CHUNKER_PARAMS;
const f1 = { algorithm: 'fastcdc-ronomon', min, avg, max };
const f2 = { algorithm: 'gear-keyed', min, avg, max, secret: createHash('sha256').update('bench').digest('hex') };

function keystream(label) {
  const key = createHash('sha256').update(`repo-bench ${label}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
}

/** The uncompressed tar stream of the kernel tarball, piece by piece (xz runs in a child process). */
async function* kernelTar() {
  const xz = spawn('xz', ['-dc', TARBALL], { stdio: ['ignore', 'pipe', 'inherit'] });
  let seen = 0;
  for await (const piece of xz.stdout) {
    yield piece;
    seen += piece.length;
    if (KERNEL_MIB > 0 && seen >= KERNEL_MIB * 2 ** 20) {
      xz.kill();
      return;
    }
  }
}

/** Regular files of a tar stream, in stream order: { name, data }. Handles ustar, GNU long names and pax. */
async function* tarFiles(stream) {
  let buf = Buffer.alloc(0);
  let longName;
  const need = async function* (n, it) {
    while (buf.length < n) {
      const r = await it.next();
      if (r.done) return false;
      buf = Buffer.concat([buf, r.value]);
    }
    return true;
  };
  const it = stream[Symbol.asyncIterator]();
  for (;;) {
    if (!(yield* need(512, it))) return;
    const h = buf.subarray(0, 512);
    if (h.every((b) => b === 0)) return;
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const padded = Math.ceil(size / 512) * 512;
    if (!(yield* need(512 + padded, it))) return;
    const data = Buffer.from(buf.subarray(512, 512 + size));
    buf = buf.subarray(512 + padded);
    const name = longName ?? h.subarray(0, 100).toString('utf8').replace(/\0.*$/, '');
    longName = undefined;
    if (type === 'L') longName = data.toString('utf8').replace(/\0.*$/, '');
    else if (type === '0' || type === '7') yield { name, data };
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

/** Dedupe and padding figures for one dataset given as an async generator of { version, data } files. */
async function dedupe(label, files) {
  const result = {};
  for (const [name, params] of [
    ['format 1', f1],
    ['format 2', f2],
  ]) {
    const chunker = createChunker(params);
    const seen = new Map(); // BLAKE3 hex → chunk length (padding measured on distinct chunks only)
    let logical = 0;
    let unique = 0;
    let sealed = 0;
    let padded = 0;
    for await (const f of files()) {
      logical += f.data.length;
      for (const c of await chunksOf(chunker, f.data)) {
        const id = blake3(c).toString('hex');
        if (seen.has(id)) continue;
        seen.set(id, c.length);
        unique += c.length;
        sealed += storedForm(c, 3, false).data.length + SEAL;
        padded += storedForm(c, 3, true).data.length + SEAL;
      }
    }
    result[name] = { logical, unique, blobs: seen.size, ratio: logical / unique, sealed, padded };
  }
  for (const [name, r] of Object.entries(result)) {
    console.log(
      `${label.padEnd(10)} ${name}: ${r.blobs} distinct chunks, dedupe ${r.ratio.toFixed(4)} (${(r.logical / 2 ** 20).toFixed(0)} MiB / ${(r.unique / 2 ** 20).toFixed(1)} MiB), ` +
        `sealed ${(r.sealed / 2 ** 20).toFixed(1)} MiB` +
        (name === 'format 2'
          ? `, padded ${(r.padded / 2 ** 20).toFixed(1)} MiB (+${((r.padded / r.sealed - 1) * 100).toFixed(2)} %)`
          : ''),
    );
  }
  const d = (result['format 2'].ratio / result['format 1'].ratio - 1) * 100;
  console.log(`${label.padEnd(10)} dedupe ratio format 2 vs format 1: ${d >= 0 ? '+' : ''}${d.toFixed(2)} %`);
}

const FILE = 64 * 2 ** 20;
function randomFile(i, changed) {
  const c = keystream(`random v1 ${i}`);
  const data = c.update(Buffer.alloc(FILE));
  if (changed) {
    // 1 % of the bytes, 64 KiB regions at deterministic scattered offsets (as bench's random change).
    const region = 64 * 1024;
    const regions = Math.ceil((FILE * 0.01) / region);
    const k = keystream(`random change ${i}`);
    for (let r = 0; r < regions; r++) {
      const at = Math.floor((((r * 2654435761) % 1000003) / 1000003) * (FILE - region));
      k.update(Buffer.alloc(region)).copy(data, at);
    }
  }
  return data;
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

await dedupe('random', async function* () {
  for (let i = 0; i < 16; i++) yield { data: randomFile(i, false) };
  for (let i = 0; i < 16; i++) yield { data: randomFile(i, true) };
});

if (existsSync(TARBALL)) {
  // The tree once, then again with every 100th file appended to: the second pass re-reads the tarball.
  await dedupe('kernel', async function* () {
    for await (const f of tarFiles(kernelTar())) yield f;
    let n = 0;
    for await (const f of tarFiles(kernelTar()))
      yield n++ % 100 === 37 ? { data: Buffer.concat([f.data, Buffer.from('\n/* changed */\n')]) } : f;
  });
}
