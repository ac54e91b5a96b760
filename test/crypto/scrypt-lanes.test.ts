// scrypt with its lanes on worker threads (src/crypto/scrypt-lanes.ts) must give node:crypto's key, bit for bit:
// a key file written by either opens with the other. And the committed WebAssembly must be what its generator
// assembles from the text in scripts/gen-romix.mjs.
import { randomBytes, scryptSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/crypto/kdf.js';
import { laneThreads, scryptLanes } from '../../src/crypto/scrypt-lanes.js';
// @ts-expect-error: a plain .mjs script without type declarations
import { ROMIX_TS, romixSource, romixWasm } from '../../scripts/gen-romix.mjs';

const native = (pw: Uint8Array, salt: Uint8Array, N: number, r: number, p: number, len: number): Buffer =>
  scryptSync(pw, salt, len, { N, r, p, maxmem: 1 << 30 });

describe('scryptLanes', () => {
  it('gives the RFC 7914 test vectors', async () => {
    // RFC 7914 §12: the first three vectors (the fourth, N = 2^20, takes seconds).
    const vectors: [string, string, number, number, number, string][] = [
      ['', '', 16, 1, 1, '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442'],
      ['password', 'NaCl', 1024, 8, 16, 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162'],
      [
        'pleaseletmein',
        'SodiumChloride',
        16384,
        8,
        1,
        '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2',
      ],
    ];
    for (const [pw, salt, N, r, p, hex] of vectors) {
      const key = await scryptLanes(Buffer.from(pw), Buffer.from(salt), { N, r, p }, 64);
      expect(key.subarray(0, 32).toString('hex')).toBe(hex);
      expect(key.equals(native(Buffer.from(pw), Buffer.from(salt), N, r, p, 64))).toBe(true);
    }
  });

  it('matches node:crypto over random parameters, passwords, salts and key lengths', async () => {
    for (let i = 0; i < 40; i++) {
      const N = 2 ** (1 + (i % 11));
      const r = 1 + ((i * 7) % 10);
      const p = 1 + ((i * 5) % 6);
      const pw = randomBytes(i % 3 === 0 ? 0 : 1 + (i % 40));
      const salt = randomBytes(1 + ((i * 3) % 48));
      const len = 1 + ((i * 13) % 80);
      const got = await scryptLanes(pw, salt, { N, r, p }, len);
      expect(got.toString('hex'), `N=${N} r=${r} p=${p} len=${len}`).toBe(
        native(pw, salt, N, r, p, len).toString('hex'),
      );
    }
  });

  it('gives deriveKey the same key as node:crypto for a calibrated shape (N = 2^15, r = 8, p = 7)', async () => {
    const salt = randomBytes(32);
    const params = { N: 2 ** 15, r: 8, p: 7 };
    const key = await deriveKey('correct horse battery staple', salt, params);
    expect(key.equals(native(Buffer.from('correct horse battery staple'), salt, 2 ** 15, 8, 7, 32))).toBe(true);
  });

  it('gives the same key on one thread and on two', async () => {
    const pw = Buffer.from('pw');
    const salt = randomBytes(16);
    const expected = native(pw, salt, 4096, 8, 5, 32).toString('hex');
    for (const max of [1, 2, 9]) {
      const key = await scryptLanes(pw, salt, { N: 4096, r: 8, p: 5 }, 32, { max });
      expect(key.toString('hex')).toBe(expected);
    }
  });

  it('deriveKey gives the same key whether or not its caller is busy (node:crypto or the lanes)', async () => {
    const salt = randomBytes(32);
    const params = { N: 4096, r: 8, p: 4 };
    const busy = await deriveKey('pw', salt, params, { callerBusy: () => true });
    const idle = await deriveKey('pw', salt, params, { callerBusy: () => false });
    expect(busy.equals(idle)).toBe(true);
    expect(idle.equals(native(Buffer.from('pw'), salt, 4096, 8, 4, 32))).toBe(true);
  });

  it('rejects (and does not hang) when a lane thread fails: a table past the 4 GiB of WebAssembly memory', async () => {
    // N = 2^22, r = 32: half the table is 8 GiB; deriveKey never gets here (validation caps scrypt at 1 GiB),
    // and falls back to node:crypto when a thread fails for another reason.
    await expect(scryptLanes(Buffer.from('pw'), Buffer.alloc(16), { N: 2 ** 22, r: 32, p: 2 }, 32)).rejects.toThrow();
  });

  it('gives the right key where the lane threads cannot reserve their memory (ulimit -v 16 GB): node:crypto', () => {
    // V8 sets aside far more address space for WebAssembly memory than it uses; under this limit the lanes'
    // threads fail on this machine and deriveKey falls back. The built library, in a process of its own.
    const kdf = path.resolve('dist/crypto/kdf.js');
    const code = `const { deriveKey } = await import(${JSON.stringify(kdf)});
      const key = await deriveKey('pw', Buffer.alloc(16, 1), { N: 4096, r: 8, p: 3 });
      process.stdout.write(key.toString('hex'));`;
    const out = execFileSync(
      'sh',
      ['-c', 'ulimit -v 16000000 && exec "$0" --input-type=module -e "$1"', process.execPath, code],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toBe(native(Buffer.from('pw'), Buffer.alloc(16, 1), 4096, 8, 3, 32).toString('hex'));
  });

  it('uses two threads for several lanes on a machine with two cores, and none for one lane', () => {
    expect(laneThreads(1)).toBe(1);
    expect(laneThreads(7)).toBe(Math.min(2, availableParallelism()));
  });
});

describe('romix-wasm.ts', () => {
  it('holds exactly what scripts/gen-romix.mjs assembles', async () => {
    const expected = romixSource(await romixWasm()) as string;
    expect(fs.readFileSync(ROMIX_TS as string, 'utf8')).toBe(expected);
  });
});
