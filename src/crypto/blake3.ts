// BLAKE3 hashing (plain and keyed, one-shot and streaming) over the native @napi-rs/blake-hash binding.
// Must never hand the native code a key that is not exactly 32 bytes: the binding aborts the whole process.

import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Blake3Hasher } from '@napi-rs/blake-hash';
import { RepoError } from '../core/errors.js';

export const BLAKE3_KEY_LENGTH = 32;
export const BLAKE3_OUT_LENGTH = 32;

/** A BLAKE3 hash in progress, fed piece by piece. */
export interface Blake3Stream {
  update(data: Uint8Array): this;
  /** The hash of everything fed so far; feeding may continue afterwards. */
  digest(): Buffer;
}

export type Blake3Binding = typeof import('@napi-rs/blake-hash');

// Loaded on first use: finding and loading the native binding costs ~10 ms at start-up, which commands that
// hash nothing (`version`, `--help`) should not pay.
let binding: Blake3Binding | undefined;
/** The native binding, loaded once per thread (also for the chunker's gear table and check's pack verifier). */
export function blake3Binding(): Blake3Binding {
  return (binding ??= loadBinding());
}

/** Where musl's dynamic loader always lives: a Linux without it has glibc. */
const MUSL_LOADER = `/lib/ld-musl-${process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch}.so.1`;

/**
 * The package's index asks process.report.getReport() whether the C library is glibc before it picks the
 * binary package: 3.5-4 ms in every thread that loads it (the main one and each worker). Where musl's
 * loader is absent, the glibc binary package (an optional dependency the index would pick too) is
 * loaded directly: 1.7 ms against 6.8 for the index. Anything else goes through the index.
 */
function loadBinding(): Blake3Binding {
  const load = createRequire(import.meta.url);
  if (process.platform === 'linux' && !fs.existsSync(MUSL_LOADER)) {
    try {
      return load(`@napi-rs/blake-hash-linux-${process.arch}-gnu`) as Blake3Binding;
    } catch {
      // not installed for this architecture: the index says why
    }
  }
  return load('@napi-rs/blake-hash') as Blake3Binding;
}

// The binding takes Buffers; a view over the same memory satisfies it without a copy.
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function checkKey(key: Uint8Array): void {
  // Checked here because a wrong length is a Rust panic inside the binding, which kills the process.
  if (!(key instanceof Uint8Array) || key.byteLength !== BLAKE3_KEY_LENGTH) {
    throw new RepoError('INVALID_ARGUMENT', `BLAKE3 key must be ${BLAKE3_KEY_LENGTH} bytes`);
  }
}

function checkData(data: Uint8Array): void {
  // The binding also accepts strings and numbers and would hash them silently; only bytes are meant.
  if (!(data instanceof Uint8Array)) throw new RepoError('INVALID_ARGUMENT', 'BLAKE3 input must be a Uint8Array');
}

/** Unkeyed BLAKE3, 32 bytes. */
export function blake3(data: Uint8Array): Buffer {
  checkData(data);
  return blake3Binding().blake3(asBuffer(data));
}

/**
 * A BLAKE3 key bound to one reusable native hasher. Constructing a native hasher costs about 10 µs, more
 * than hashing 16 KiB, while reset() keeps the key; hashing many blobs under one key belongs here.
 */
export class Blake3Key {
  readonly #hasher: Blake3Hasher;

  constructor(key: Uint8Array) {
    checkKey(key);
    this.#hasher = blake3Binding().Blake3Hasher.newKeyed(asBuffer(key));
  }

  /** Keyed BLAKE3 of `data`, 32 bytes. */
  hash(data: Uint8Array): Buffer {
    checkData(data);
    // Synchronous from reset to digest, so no other caller can interleave on the shared hasher.
    this.#hasher.reset();
    this.#hasher.update(asBuffer(data));
    return this.#hasher.digestBuffer();
  }
}

// keyedBlake3 is usually called with the same id key over and over; remembering the last one turns the
// per-call hasher construction into a 32-byte comparison. A private copy, so callers may reuse their buffer.
let lastKey: Buffer | undefined;
let lastBlake3Key: Blake3Key | undefined;

/** Keyed BLAKE3 (the MAC mode), 32 bytes. */
export function keyedBlake3(key: Uint8Array, data: Uint8Array): Buffer {
  checkKey(key);
  if (lastKey === undefined || lastBlake3Key === undefined || !timingSafeEqual(lastKey, key)) {
    lastBlake3Key = new Blake3Key(key);
    lastKey = Buffer.from(key);
  }
  return lastBlake3Key.hash(data);
}

class NativeBlake3Stream implements Blake3Stream {
  readonly #hasher: Blake3Hasher;

  constructor(hasher: Blake3Hasher) {
    this.#hasher = hasher;
  }

  update(data: Uint8Array): this {
    checkData(data);
    // Subarray views are read in place by the binding (checked against @noble/hashes in the tests).
    this.#hasher.update(asBuffer(data));
    return this;
  }

  digest(): Buffer {
    return this.#hasher.digestBuffer();
  }
}

/** Streaming unkeyed BLAKE3. */
export function createBlake3(): Blake3Stream {
  return new NativeBlake3Stream(new (blake3Binding().Blake3Hasher)());
}

/** Streaming keyed BLAKE3. */
export function createKeyedBlake3(key: Uint8Array): Blake3Stream {
  checkKey(key);
  return new NativeBlake3Stream(blake3Binding().Blake3Hasher.newKeyed(asBuffer(key)));
}
