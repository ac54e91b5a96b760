// Streaming FastCDC: boundaries must not depend on how the input is split or on the window size.
// Never uses Math.random: all data and piece sizes come from fixed seeds.

import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CHUNKER_PARAMS,
  FastCdcChunker,
  createChunker,
  fastcdcBoundaries,
  type ChunkerParams,
} from '../../src/chunker/index.js';
import { collect, cutsOf, mixedBytes, pieces, prng, randInt, randomBytes } from './helpers.js';

const MiB = 1024 * 1024;
const SMALL: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 16384, avg: 65536, max: 262144 };
const SPEC: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 262144, avg: 1048576, max: 4194304 };

function checkChunks(chunks: Buffer[], data: Buffer, p: ChunkerParams): void {
  expect(Buffer.concat(chunks).equals(data)).toBe(true);
  chunks.forEach((c, i) => {
    expect(c.length).toBeLessThanOrEqual(p.max);
    if (i < chunks.length - 1) expect(c.length).toBeGreaterThanOrEqual(p.min);
    expect(c.length).toBeGreaterThan(0);
    // each chunk owns its memory: not a view into the chunker's window
    expect(c.byteOffset).toBe(0);
    expect(c.buffer.byteLength).toBe(c.length);
  });
}

describe('streaming boundaries equal whole-input boundaries', () => {
  const data = mixedBytes(40 * MiB, 20240601);
  const expected = new Map<ChunkerParams, number[]>();
  const reference = (p: ChunkerParams): number[] => {
    let r = expected.get(p);
    if (!r) expected.set(p, (r = Array.from(fastcdcBoundaries(data, p))));
    return r;
  };

  const splits: [string, (seed: number) => (i: number) => number][] = [
    ['one piece', () => () => data.length],
    ['1 MiB pieces', () => () => MiB],
    ['3 MiB pieces', () => () => 3 * MiB],
    ['odd sizes 1_000_003', () => () => 1_000_003],
    [
      'random 1..4096',
      (s) => {
        const n = prng(s);
        return () => randInt(n, 1, 4096);
      },
    ],
    [
      'random 1..9 MiB',
      (s) => {
        const n = prng(s);
        return () => randInt(n, 1, 9 * MiB);
      },
    ],
    ['alternating 1 byte / 5 MiB+7', () => (i) => (i % 2 === 0 ? 1 : 5 * MiB + 7)],
  ];
  const windows = [undefined, 1, 2 * 8 * MiB + 1, 23 * MiB + 13, 64 * MiB];

  for (const p of [DEFAULT_CHUNKER_PARAMS, SPEC, SMALL]) {
    const name = `${p.min}/${p.avg}/${p.max}`;
    it(`${name}: every split and window size gives the whole-input cuts`, async () => {
      const want = reference(p);
      expect(want.length).toBeGreaterThan(3);
      let combo = 0;
      for (const [, split] of splits) {
        for (const windowSize of windows) {
          // All splits with the default window, all windows with a few splits: enough coverage, fast.
          combo++;
          if (windowSize !== undefined && combo % 3 !== 0) continue;
          const chunker = new FastCdcChunker(p, { windowSize });
          const chunks = await collect(chunker.chunks(pieces(data, split(combo))));
          expect(cutsOf(chunks)).toEqual(want);
          if (combo === 1) checkChunks(chunks, data, p);
        }
      }
    }, 60_000);
  }

  it('the input holds forced cuts at max and content-defined cuts', () => {
    const cuts = reference(SMALL);
    const sizes = cuts.slice(1).map((c, i) => c - cuts[i]);
    expect(sizes.filter((s) => s === SMALL.max).length).toBeGreaterThan(5);
    expect(sizes.filter((s) => s < SMALL.max).length).toBeGreaterThan(100);
  });
});

describe('small parameters, minimal window, 1-byte pieces', () => {
  const p: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 256, avg: 1024, max: 4096 };
  it('matches whole-input cuts with many carries', async () => {
    const data = mixedBytes(512 * 1024, 7);
    const want = Array.from(fastcdcBoundaries(data, p));
    const chunker = new FastCdcChunker(p, { windowSize: 1 }); // raised to 2 x max = 8 KiB
    expect(chunker.windowSize).toBe(2 * p.max);
    const oneByte = await collect(chunker.chunks(pieces(data, () => 1)));
    expect(cutsOf(oneByte)).toEqual(want);
    checkChunks(oneByte, data, p);
    const n = prng(99);
    const mixed = await collect(chunker.chunks(pieces(data, () => randInt(n, 1, 3 * p.max))));
    expect(cutsOf(mixed)).toEqual(want);
  }, 30_000);
});

describe('edge cases', () => {
  const chunker = createChunker(SMALL);

  it('0-byte input yields no chunks', async () => {
    expect(await collect(chunker.chunks(pieces(Buffer.alloc(0), () => 1)))).toEqual([]);
    async function* empties(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(0);
      yield Buffer.alloc(0);
    }
    expect(await collect(chunker.chunks(empties()))).toEqual([]);
    expect(await collect(chunker.chunksFrom(async () => 0))).toEqual([]);
  });

  it('input of at most min bytes is one chunk', async () => {
    for (const size of [1, 100, SMALL.min - 1, SMALL.min]) {
      const data = randomBytes(size, size);
      const chunks = await collect(chunker.chunks(pieces(data, () => 7)));
      expect(chunks.length).toBe(1);
      expect(chunks[0].equals(data)).toBe(true);
    }
  });

  it('input much larger than max: all chunks within bounds, all-zero input cut at max', async () => {
    const zeros = Buffer.alloc(10 * SMALL.max + 12345);
    const chunks = await collect(chunker.chunks(pieces(zeros, () => 100_000)));
    expect(chunks.map((c) => c.length)).toEqual([...Array(10).fill(SMALL.max), 12345]);
    const data = randomBytes(8 * MiB, 3);
    checkChunks(await collect(chunker.chunks(pieces(data, () => MiB))), data, SMALL);
  });

  it('chunks stay valid after the source reuses its piece buffer', async () => {
    const data = mixedBytes(3 * MiB, 11);
    async function* reusing(): AsyncGenerator<Uint8Array> {
      const buf = Buffer.alloc(65536);
      for (let off = 0; off < data.length; off += buf.length) {
        const n = data.copy(buf, 0, off, off + buf.length);
        yield buf.subarray(0, n);
        buf.fill(0xee); // overwritten once the chunker asks for the next piece
      }
    }
    const chunks = await collect(chunker.chunks(reusing()));
    expect(cutsOf(chunks)).toEqual(Array.from(fastcdcBoundaries(data, SMALL)));
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('concurrent streams on one chunker do not interfere', async () => {
    const a = mixedBytes(6 * MiB, 21);
    const b = mixedBytes(5 * MiB, 22);
    const [ca, cb] = await Promise.all([
      collect(chunker.chunks(pieces(a, () => 100_003))),
      collect(chunker.chunks(pieces(b, () => 65_536))),
    ]);
    expect(cutsOf(ca)).toEqual(Array.from(fastcdcBoundaries(a, SMALL)));
    expect(cutsOf(cb)).toEqual(Array.from(fastcdcBoundaries(b, SMALL)));
  });

  it('stopping early closes the source, and the chunker stays usable', async () => {
    let closed = false;
    const data = randomBytes(4 * MiB, 5);
    async function* src(): AsyncGenerator<Uint8Array> {
      try {
        yield* pieces(data, () => 300_000);
      } finally {
        closed = true;
      }
    }
    for await (const c of chunker.chunks(src())) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    expect(closed).toBe(true);
    const again = await collect(chunker.chunks(pieces(data, () => MiB)));
    expect(cutsOf(again)).toEqual(Array.from(fastcdcBoundaries(data, SMALL)));
  });

  it('source errors propagate unchanged', async () => {
    async function* bad(): AsyncGenerator<Uint8Array> {
      yield randomBytes(1000, 1);
      throw new Error('disk on fire');
    }
    await expect(collect(chunker.chunks(bad()))).rejects.toThrow('disk on fire');
  });

  it('rejects non-bytes pieces and bad read results', async () => {
    async function* strings(): AsyncGenerator<Uint8Array> {
      yield 'text' as unknown as Uint8Array;
    }
    await expect(collect(chunker.chunks(strings()))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(collect(chunker.chunksFrom(async (_b, _o, len) => len + 1))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('rejects bad window sizes', () => {
    for (const windowSize of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
      expect(() => new FastCdcChunker(SMALL, { windowSize })).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});
