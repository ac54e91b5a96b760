// Test helpers: repositories on the memory backend or a temp dir, with cheap KDF parameters.
// Only tests import this; nothing in src/ may.

import { createCipheriv } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryBackend } from '../../src/backend/memory.js';
import { LocalBackend } from '../../src/backend/local.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { Repository, type InitOptions } from '../../src/repository/repository.js';

export const PASSWORD = 'correct horse battery staple';

export async function memoryRepo(opts: InitOptions = {}): Promise<{ repo: Repository; backend: MemoryBackend }> {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, PASSWORD, { kdf: CHEAP_TEST_SCRYPT, ...opts });
  return { repo, backend };
}

export async function localRepo(dir: string, opts: InitOptions = {}): Promise<Repository> {
  const backend = await LocalBackend.createAt(dir);
  return Repository.init(backend, PASSWORD, { kdf: CHEAP_TEST_SCRYPT, ...opts });
}

export function tempDir(prefix = 'repo-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A seeded PRNG (mulberry32, period 2^32) so failures reproduce from the seed in the test name. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Incompressible deterministic bytes: AES-CTR keystream keyed by the next PRNG outputs. */
export function randomBuffer(rand: () => number, n: number): Buffer {
  const key = Buffer.alloc(16);
  for (let i = 0; i < 16; i += 4) key.writeUInt32LE(Math.floor(rand() * 4294967296), i);
  const c = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
}
