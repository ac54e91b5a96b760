// chunkFile: chunking a real file from disk matches chunking the same bytes from memory.
// Never writes outside a fresh temporary directory, and removes it afterwards.

import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkFile, createChunker, fastcdcBoundaries, type ChunkerParams } from '../../src/chunker/index.js';
import { collect, cutsOf, mixedBytes, randomBytes } from './helpers.js';

const MiB = 1024 * 1024;
const P: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 65536, avg: 262144, max: 1048576 };
const dir = mkdtempSync(join(tmpdir(), 'chunker-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

describe('chunkFile', () => {
  const data = mixedBytes(24 * MiB + 4321, 42);
  const file = join(dir, 'big.bin');
  writeFileSync(file, data);
  const want = Array.from(fastcdcBoundaries(data, P));

  it('matches chunking from memory, for several read sizes and windows', async () => {
    for (const [readSize, windowSize] of [
      [undefined, undefined],
      [65_537, undefined],
      [3 * MiB + 1, 5 * MiB - 3],
      [MiB, 2 * P.max], // the smallest window
    ] as const) {
      const chunks = await collect(chunkFile(file, createChunker(P, { windowSize }), { readSize }));
      expect(cutsOf(chunks)).toEqual(want);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
    }
  }, 30_000);

  it('small file read 1 byte at a time', async () => {
    const small = data.subarray(0, 40_000); // several chunks at these small params
    const f = join(dir, 'small.bin');
    writeFileSync(f, small);
    const p: ChunkerParams = { algorithm: 'fastcdc-ronomon', min: 1024, avg: 4096, max: 16384 };
    const chunks = await collect(chunkFile(f, createChunker(p), { readSize: 1 }));
    expect(chunks.length).toBeGreaterThan(2);
    expect(cutsOf(chunks)).toEqual(Array.from(fastcdcBoundaries(small, p)));
  }, 30_000);

  it('empty file yields nothing; tiny file one chunk', async () => {
    const e = join(dir, 'empty');
    writeFileSync(e, Buffer.alloc(0));
    expect(await collect(chunkFile(e, createChunker(P)))).toEqual([]);
    const t = join(dir, 'tiny');
    writeFileSync(t, Buffer.from('hello'));
    const chunks = await collect(chunkFile(t, createChunker(P)));
    expect(chunks.map((c) => c.toString())).toEqual(['hello']);
  });

  it('accepts a Buffer path that is not valid UTF-8', async () => {
    const name = Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62])]);
    const content = randomBytes(3 * MiB, 9);
    try {
      writeFileSync(name, content);
    } catch {
      return; // a file system that refuses such names (not the case on Linux ext4/tmpfs)
    }
    const chunks = await collect(chunkFile(name, createChunker(P)));
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
  });

  it('missing file, directory and symlink fail with SOURCE', async () => {
    await expect(collect(chunkFile(join(dir, 'nope'), createChunker(P)))).rejects.toMatchObject({
      code: 'SOURCE',
      context: { path: join(dir, 'nope') },
    });
    await expect(collect(chunkFile(dir, createChunker(P)))).rejects.toMatchObject({ code: 'SOURCE' });
    const link = join(dir, 'link');
    symlinkSync(file, link);
    await expect(collect(chunkFile(link, createChunker(P)))).rejects.toMatchObject({ code: 'SOURCE' });
    const followed = await collect(chunkFile(link, createChunker(P), { followSymlinks: true }));
    expect(cutsOf(followed)).toEqual(want);
  });

  it('abort signal stops with INTERRUPTED; the file is closed on every exit', async () => {
    const before = openFds();
    const ac = new AbortController();
    let n = 0;
    await expect(
      (async () => {
        for await (const _ of chunkFile(file, createChunker(P), { signal: ac.signal, readSize: MiB })) {
          if (++n === 2) ac.abort();
        }
      })(),
    ).rejects.toMatchObject({ code: 'INTERRUPTED' });
    for await (const _ of chunkFile(file, createChunker(P))) break; // early exit
    if (before !== undefined) expect(openFds()).toBe(before);
  });
});

describe('fastcdcBoundaries on inputs no longer than min', () => {
  it('gives what the WebAssembly chunker gives, without calling it', async () => {
    const { createRequire } = await import('node:module');
    const wasm = createRequire(import.meta.url)('fastcdc-wasm') as {
      get_chunks: (b: Uint8Array, min: number, avg: number, max: number) => Uint32Array;
    };
    const zeros = new Uint8Array(P.min + 1);
    for (const n of [0, 1, 2, 100, P.min - 1, P.min, P.min + 1]) {
      for (const bytes of [randomBytes(n, n), zeros.subarray(0, n)]) {
        expect(Array.from(fastcdcBoundaries(bytes, P))).toEqual(
          Array.from(wasm.get_chunks(bytes, P.min, P.avg, P.max)),
        );
      }
    }
  });
});
