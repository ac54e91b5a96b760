// Random directory trees for round-trip tests, and a comparison of two trees with their metadata.
// Sizes span 0 bytes to several times the largest chunk; names include unicode and non-UTF-8 bytes.

import fs from 'node:fs';
import path from 'node:path';
import { prng, randomBuffer } from './repo.js';

export interface GenOptions {
  seed: number;
  maxDepth?: number;
  maxEntries?: number;
  /** The largest chunk of the repository under test, so some files exceed it. */
  maxChunk?: number;
  nonUtf8?: boolean;
}

const NAMES = [
  'a',
  'README.md',
  'données',
  '日本語',
  'emoji-😀',
  'with space',
  '.hidden',
  'x'.repeat(200),
  'UPPER',
  '-dash',
];

export function generateTree(root: string, o: GenOptions): { files: number; bytes: number } {
  const rand = prng(o.seed);
  const maxChunk = o.maxChunk ?? 4 * 1024 * 1024;
  const stats = { files: 0, bytes: 0 };
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const sizeOf = () => {
    const r = rand();
    if (r < 0.15) return 0;
    if (r < 0.6) return Math.floor(rand() * 4096);
    if (r < 0.9) return Math.floor(rand() * 300_000);
    if (r < 0.97) return Math.floor(rand() * 2 * maxChunk);
    return Math.floor(maxChunk * (2 + rand() * 1.5));
  };
  const gen = (dir: Buffer, depth: number) => {
    fs.mkdirSync(dir, { recursive: true });
    const n = 1 + Math.floor(rand() * (o.maxEntries ?? 8));
    const used = new Set<string>();
    for (let i = 0; i < n; i++) {
      let name = Buffer.from(`${pick(NAMES)}-${i}`);
      if (o.nonUtf8 !== false && rand() < 0.1)
        name = Buffer.concat([Buffer.from('raw-'), Buffer.from([0xff, 0xfe, 0x80 + i])]);
      if (used.has(name.toString('hex'))) continue;
      used.add(name.toString('hex'));
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = rand();
      if (r < 0.25 && depth < (o.maxDepth ?? 4)) {
        gen(p, depth + 1);
        if (rand() < 0.2) fs.chmodSync(p, 0o750);
      } else if (r < 0.32) {
        fs.symlinkSync(rand() < 0.5 ? Buffer.from('../some/where/else') : name, p);
      } else {
        const size = sizeOf();
        // Mix incompressible and compressible content, and repeat a block so dedupe has something to find.
        const data = rand() < 0.5 ? randomBuffer(rand, size) : Buffer.alloc(size, `line ${i} of text\n`);
        fs.writeFileSync(p, data);
        fs.chmodSync(p, pick([0o644, 0o600, 0o755, 0o400]));
        stats.files++;
        stats.bytes += size;
      }
      const t = 1_500_000_000 + Math.floor(rand() * 200_000_000) + rand();
      fs.lutimesSync(p, t, t);
    }
    const t = 1_400_000_000 + Math.floor(rand() * 100_000_000);
    fs.utimesSync(dir, t, t);
  };
  gen(Buffer.from(root), 0);
  return stats;
}

export interface CompareOptions {
  owner?: boolean;
  /** Directory mtimes are compared too unless false. */
  dirTimes?: boolean;
}

/** Lists every difference between two trees (content, type, mode, mtime to 1 µs, symlink targets). */
export function compareTrees(a: string, b: string, o: CompareOptions = {}): string[] {
  const diffs: string[] = [];
  const walk = (pa: Buffer, pb: Buffer, rel: string) => {
    const sa = fs.lstatSync(pa, { bigint: true });
    const sb = fs.lstatSync(pb, { bigint: true });
    const kind = (s: fs.BigIntStats) =>
      s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
    if (kind(sa) !== kind(sb)) return void diffs.push(`${rel}: type ${kind(sa)} != ${kind(sb)}`);
    if (!sa.isSymbolicLink() && (sa.mode & 0o7777n) !== (sb.mode & 0o7777n))
      diffs.push(`${rel}: mode ${sa.mode.toString(8)} != ${sb.mode.toString(8)}`);
    const mtimeDiff = sa.mtimeNs - sb.mtimeNs;
    if ((!sa.isDirectory() || o.dirTimes !== false) && (mtimeDiff > 1000n || mtimeDiff < -1000n))
      diffs.push(`${rel}: mtime ${sa.mtimeNs} != ${sb.mtimeNs}`);
    if (o.owner && (sa.uid !== sb.uid || sa.gid !== sb.gid)) diffs.push(`${rel}: owner differs`);
    if (sa.isFile() && !fs.readFileSync(pa).equals(fs.readFileSync(pb))) diffs.push(`${rel}: content differs`);
    if (
      sa.isSymbolicLink() &&
      !fs.readlinkSync(pa, { encoding: 'buffer' }).equals(fs.readlinkSync(pb, { encoding: 'buffer' }))
    )
      diffs.push(`${rel}: link target differs`);
    if (sa.isDirectory()) {
      const na = fs
        .readdirSync(pa, { encoding: 'buffer' })
        .map((x) => x.toString('hex'))
        .sort();
      const nb = fs
        .readdirSync(pb, { encoding: 'buffer' })
        .map((x) => x.toString('hex'))
        .sort();
      if (na.join() !== nb.join()) diffs.push(`${rel}: entries differ`);
      for (const h of na) {
        if (!nb.includes(h)) continue;
        const n = Buffer.from(h, 'hex');
        walk(
          Buffer.concat([pa, Buffer.from('/'), n]),
          Buffer.concat([pb, Buffer.from('/'), n]),
          path.join(rel, n.toString()),
        );
      }
    }
  };
  walk(Buffer.from(a), Buffer.from(b), '.');
  return diffs;
}
