// Shared test helpers for the chunker: a seeded PRNG, reproducible test data and piece splitters.
// Must never use Math.random (failures have to reproduce from the seed).

/** xorshift32: tiny, fast, deterministic. Never returns 0 for a non-zero seed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Random integer in [lo, hi] from `next`. */
export function randInt(next: () => number, lo: number, hi: number): number {
  return lo + (next() % (hi - lo + 1));
}

/** `size` pseudo-random bytes from `seed`. */
export function randomBytes(size: number, seed: number): Buffer {
  const next = prng(seed);
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Buffer.from(words.buffer, 0, size);
}

/**
 * Mostly random bytes, with some long zero runs (forcing cuts at max) and repeated
 * segments (real dedupe), all determined by `seed`.
 */
export function mixedBytes(size: number, seed: number): Buffer {
  const out = randomBytes(size, seed);
  const next = prng(seed ^ 0x5bd1e995);
  const runs = Math.max(1, Math.floor(size / (8 << 20)));
  for (let r = 0; r < runs; r++) {
    const len = randInt(next, 1, Math.min(size, 20 << 20) >>> 2);
    const at = randInt(next, 0, size - len);
    out.fill(0, at, at + len); // low entropy: no content-defined cut inside
    const len2 = randInt(next, 1, Math.min(size, 2 << 20) >>> 1);
    const from = randInt(next, 0, size - len2);
    const to = randInt(next, 0, size - len2);
    out.copyWithin(to, from, from + len2);
  }
  return out;
}

/** Splits `data` into pieces whose sizes come from `sizeOf` (called with a running index). */
export async function* pieces(data: Uint8Array, sizeOf: (i: number) => number): AsyncGenerator<Uint8Array> {
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = Math.max(1, Math.min(sizeOf(i), data.length - off));
    yield data.subarray(off, off + n);
    off += n;
  }
}

export async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

/** Cut points [0, ..., total] of a list of chunks, for comparing with fastcdcBoundaries. */
export function cutsOf(chunks: Uint8Array[]): number[] {
  const cuts = [0];
  let at = 0;
  for (const c of chunks) {
    at += c.length;
    cuts.push(at);
  }
  return cuts;
}
