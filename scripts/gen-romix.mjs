// Generates src/crypto/romix-wasm.ts: scrypt's ROMix (RFC 7914 §5) as a small WebAssembly module, so that the p
// independent lanes of a key derivation can run on several threads (node:crypto runs them one after another and
// exposes no lane on its own). The text format below is the source; the TypeScript file holds its binary in
// base64 and is committed, so a build needs no assembler. test/crypto/scrypt-lanes.test.ts checks that the
// committed bytes are exactly what this script assembles.
//
// Run: node scripts/gen-romix.mjs
//
// Why scalar code and half the memory (measured on the 2-core bench machine, N = 2^15, r = 8, p = 7):
// - Salsa20/8 with wasm's i32.rotl and four independent quarter-rounds per step ran 7 lanes in 350 ms against
//   OpenSSL's 410 ms; a 4-wide SIMD form is one dependent chain and took 600 ms.
// - Storing only V[0], V[2], … and recomputing an odd V[j] from V[j-1] costs 2.5 instead of 2 BlockMix per index,
//   but the halved table fits the cache better: two threads took 260 ms with half the table against 255 ms with
//   all of it, at 32 instead of 64 MiB for two lanes at once (the memory of one native lane).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Salsa20's quarter-rounds as word indices (y0, y1, y2, y3): four over columns, then four over rows. */
const COLUMNS = [
  [0, 4, 8, 12],
  [5, 9, 13, 1],
  [10, 14, 2, 6],
  [15, 3, 7, 11],
];
const ROWS = [
  [0, 1, 2, 3],
  [5, 6, 7, 4],
  [10, 11, 8, 9],
  [15, 12, 13, 14],
];

/** One quarter-round: y1 ^= (y0+y3)<<<7, y2 ^= (y1+y0)<<<9, y3 ^= (y2+y1)<<<13, y0 ^= (y3+y2)<<<18. */
function quarterRound([y0, y1, y2, y3]) {
  const step = (a, b, c, k) =>
    `(local.set $x${a} (i32.xor (local.get $x${a}) (i32.rotl (i32.add (local.get $x${b}) (local.get $x${c})) (i32.const ${k}))))`;
  return [step(y1, y0, y3, 7), step(y2, y1, y0, 9), step(y3, y2, y1, 13), step(y0, y3, y2, 18)];
}

/**
 * The eight rounds of Salsa20/8, unrolled. (Interleaving the four quarter-rounds step by step made no measurable
 * difference: V8 schedules the independent chains itself.)
 */
function salsa20_8() {
  const lines = [];
  for (let double = 0; double < 4; double++) {
    for (const round of [COLUMNS, ROWS]) for (const q of round) lines.push(...quarterRound(q));
  }
  return lines;
}

const words = [...Array(16).keys()];

export function romixWat() {
  const xorIn = words.map(
    (i) =>
      `(local.set $x${i} (i32.xor (local.get $x${i}) (i32.xor (i32.load offset=${4 * i} (local.get $p)) (i32.load offset=${4 * i} (local.get $q)))))`,
  );
  return `(module
  (memory (export "memory") 1)

  ;; dst = BlockMix(src XOR src2) for blocks of 2r 64-byte sub-blocks (RFC 7914 §4); dst is neither src nor src2.
  (func $blockmix (param $src i32) (param $src2 i32) (param $dst i32) (param $r i32)
    ${words.map((i) => `(local $x${i} i32) (local $s${i} i32)`).join(' ')}
    (local $i i32) (local $n i32) (local $p i32) (local $q i32)
    (local.set $n (i32.shl (local.get $r) (i32.const 1)))
    ;; X = the last sub-block
    (local.set $p (i32.add (local.get $src) (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 6))))
    (local.set $q (i32.add (local.get $src2) (i32.shl (i32.sub (local.get $n) (i32.const 1)) (i32.const 6))))
    ${words.map((i) => `(local.set $x${i} (i32.xor (i32.load offset=${4 * i} (local.get $p)) (i32.load offset=${4 * i} (local.get $q))))`).join('\n    ')}
    (loop $blocks
      (local.set $p (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 6))))
      (local.set $q (i32.add (local.get $src2) (i32.shl (local.get $i) (i32.const 6))))
      ;; X = Salsa20/8(X XOR sub-block i)
      ${xorIn.join('\n      ')}
      ${words.map((i) => `(local.set $s${i} (local.get $x${i}))`).join(' ')}
      ${salsa20_8().join('\n      ')}
      ${words.map((i) => `(local.set $x${i} (i32.add (local.get $x${i}) (local.get $s${i})))`).join('\n      ')}
      ;; even sub-blocks go to the first half of dst, odd ones to the second
      (local.set $p (i32.add (local.get $dst) (i32.shl
        (i32.add (i32.shr_u (local.get $i) (i32.const 1)) (i32.mul (i32.and (local.get $i) (i32.const 1)) (local.get $r)))
        (i32.const 6))))
      ${words.map((i) => `(i32.store offset=${4 * i} (local.get $p) (local.get $x${i}))`).join('\n      ')}
      (br_if $blocks (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))

  ;; ROMix for N ≥ 2 (a power of two) with half the table. Memory: V' = V[0], V[2], … (N/2 blocks of 128r bytes;
  ;; the caller puts the input in V'[0]), then X, Y, T and a block of zeros the caller clears. Returns X's offset.
  (func (export "romix") (param $r i32) (param $N i32) (result i32)
    (local $bl i32) (local $h i32) (local $k i32) (local $j i32) (local $s i32)
    (local $x i32) (local $y i32) (local $t i32) (local $z i32)
    (local.set $bl (i32.shl (local.get $r) (i32.const 7)))
    (local.set $h (i32.shr_u (local.get $N) (i32.const 1)))
    (local.set $x (i32.mul (local.get $h) (local.get $bl)))
    (local.set $y (i32.add (local.get $x) (local.get $bl)))
    (local.set $t (i32.add (local.get $y) (local.get $bl)))
    (local.set $z (i32.add (local.get $t) (local.get $bl)))
    ;; V[2k+1] = BlockMix(V[2k]) into T, V[2k+2] = BlockMix(T) into V'[k+1]; the last one into X
    (loop $fill
      (call $blockmix (i32.mul (local.get $k) (local.get $bl)) (local.get $z) (local.get $t) (local.get $r))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (if (i32.lt_u (local.get $k) (local.get $h))
        (then
          (call $blockmix (local.get $t) (local.get $z) (i32.mul (local.get $k) (local.get $bl)) (local.get $r))
          (br $fill))))
    (call $blockmix (local.get $t) (local.get $z) (local.get $x) (local.get $r))
    ;; N times: j = Integerify(X) mod N, X = BlockMix(X XOR V[j]), an odd V[j] recomputed into T
    (local.set $k (local.get $N))
    (loop $mix
      (local.set $j (i32.and
        (i32.load (i32.add (local.get $x) (i32.sub (local.get $bl) (i32.const 64))))
        (i32.sub (local.get $N) (i32.const 1))))
      (local.set $s (i32.mul (i32.shr_u (local.get $j) (i32.const 1)) (local.get $bl)))
      (if (i32.and (local.get $j) (i32.const 1))
        (then
          (call $blockmix (local.get $s) (local.get $z) (local.get $t) (local.get $r))
          (local.set $s (local.get $t))))
      (call $blockmix (local.get $x) (local.get $s) (local.get $y) (local.get $r))
      (local.set $s (local.get $x))
      (local.set $x (local.get $y))
      (local.set $y (local.get $s))
      (br_if $mix (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
    (local.get $x)))
`;
}

/** The module's binary, assembled by wabt (a devDependency). */
export async function romixWasm() {
  const wabt = await (await import('wabt')).default();
  const module = wabt.parseWat('romix.wat', romixWat(), { simd: false });
  try {
    module.validate();
    return Buffer.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

export function romixSource(bytes) {
  const b64 = bytes.toString('base64');
  const lines = b64.match(/.{1,100}/g).map((l) => `  '${l}'`);
  return `// Generated by scripts/gen-romix.mjs from the WebAssembly text there; do not edit. scrypt's ROMix with half the
// table (an odd V[j] recomputed from V[j-1]), scalar Salsa20/8, used by crypto/scrypt-lanes.ts.
export const ROMIX_WASM_BASE64 =
${lines.join(' +\n')};
`;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROMIX_TS = path.join(here, '..', 'src', 'crypto', 'romix-wasm.ts');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(ROMIX_TS, romixSource(await romixWasm()));
  console.log(`wrote ${path.relative(process.cwd(), ROMIX_TS)}`);
}
