// Streaming FastCDC over fastcdc-wasm with a bounded window, and chunkFile() to chunk a file from disk.
// Must never emit a boundary that depends on piece sizes, read sizes or the window size, nor buffer a whole input.

import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { errorMessage, RepoError } from '../core/errors.js';
import type { Chunker, ReadInto } from './chunker-interface.js';
import { keyedCutter, type CutFunction } from './keyed-gear.js';
import { validateChunkerParams, type ChunkerParams } from './params.js';

/*
 * What fastcdc-wasm 0.1.0 computes (Rust crate fastcdc 1.0.5, a port of ronomon/deduplication):
 * starting at a chunk start s with n bytes left, if n <= min the chunk is the rest; otherwise
 * n' = min(n, max), bits = round(log2(avg)), hash = 0, and for each position i from s + min on,
 * hash = (hash >>> 1) + TABLE[byte[i]] (31-bit values, 32-bit arithmetic), cutting after byte i if
 * hash & (2^(bits+1) - 1) == 0 while i < s + min(avg - min(min + ceil(min/2), avg), n'), and if
 * hash & (2^(bits-1) - 1) == 0 after that; with no cut the chunk is n' bytes. The hash restarts at
 * every chunk, so a cut found in a buffer that ends early is also a cut of the whole input, and
 * only the last chunk of a call (which ends at the buffer's end) may differ. See test/chunker.
 */

/** Default size of the streaming window (bytes held before calling into WASM). */
export const DEFAULT_WINDOW_SIZE = 4 * 1024 * 1024;
/** Largest accepted window (boundaries are uint32 offsets into it). */
export const MAX_WINDOW_SIZE = 1024 * 1024 * 1024;
/** A stream's window starts at most this large and doubles up to the window size as data keeps coming. */
const INITIAL_WINDOW_SIZE = 1024 * 1024;
/** Spare windows a chunker keeps between streams (about the number of files read at once). */
const MAX_SPARE_WINDOWS = 4;
/** Default cap on a single fs read in chunkFile. */
export const DEFAULT_READ_SIZE = 4 * 1024 * 1024;

export interface FastCdcOptions {
  /**
   * Bytes gathered before each WASM call (default 8 MiB). Raised to at least 2 x max, so that
   * every call emits at least max bytes. Memory: one window per active stream, plus a WASM heap
   * shared by all streams that grows to the largest window once and never shrinks.
   */
  windowSize?: number;
}

type GetChunks = (bytes: Uint8Array, min: number, avg: number, max: number) => Uint32Array;
// Compiled on first use: instantiating the WebAssembly module costs every command start-up time, and most
// commands (listing, restoring, checking) never cut a chunk.
let wasmGetChunks: GetChunks | undefined;
function getChunks(bytes: Uint8Array, min: number, avg: number, max: number): Uint32Array {
  wasmGetChunks ??= (createRequire(import.meta.url)('fastcdc-wasm') as { get_chunks: GetChunks }).get_chunks;
  return wasmGetChunks(bytes, min, avg, max);
}

// Keyed cutters by secret: deriving a table costs 32 BLAKE3 calls, and a backup cuts thousands of small files.
const keyedCutters = new Map<string, CutFunction>();

/** The cut function for `params` (validated): fastcdc-wasm for format 1, the keyed gear cutter for format 2. */
export function cutterFor(params: ChunkerParams): CutFunction {
  if (params.algorithm === 'fastcdc-ronomon') return getChunks;
  const known = params.secret === undefined ? undefined : keyedCutters.get(params.secret);
  if (known) return known;
  const made = keyedCutter(params);
  if (keyedCutters.size >= 4) keyedCutters.clear();
  keyedCutters.set(params.secret!, made);
  return made;
}

/**
 * Cut points of `bytes` taken as a whole input: [0, c1, ..., bytes.length] ([0] for no bytes), with the
 * algorithm `params` name. For fastcdc-ronomon one WASM call; WASM memory grows to bytes.length and never
 * shrinks, so keep inputs bounded. Throws RepoError 'INVALID_ARGUMENT' for bad params.
 */
export function fastcdcBoundaries(bytes: Uint8Array, params: ChunkerParams): Uint32Array {
  const p = validateChunkerParams(params, 'argument');
  const { min, avg, max } = p;
  if (bytes.length > MAX_WINDOW_SIZE)
    throw new RepoError('INVALID_ARGUMENT', `at most ${MAX_WINDOW_SIZE} bytes per call`);
  // No cut can fall within the first `min` bytes, so an input that short is one chunk. Most files of a
  // source tree are, and this spares each of them a copy into WebAssembly memory and back.
  if (bytes.length <= min) return bytes.length === 0 ? Uint32Array.of(0) : Uint32Array.of(0, bytes.length);
  return cutterFor(p)(bytes, min, avg, max);
}

function copyOut(window: Buffer, start: number, end: number): Buffer {
  // allocUnsafeSlow: the chunk owns its whole ArrayBuffer (byteOffset 0), so it can be
  // transferred to a worker, and it never pins the window or Node's shared pool.
  const out = Buffer.allocUnsafeSlow(end - start);
  window.copy(out, 0, start, end);
  return out;
}

export class FastCdcChunker implements Chunker {
  readonly params: ChunkerParams;
  /** Effective window size: max(options.windowSize ?? 8 MiB, 2 x max). */
  readonly windowSize: number;
  /**
   * Finished streams' windows kept for the next streams. Several, because files are read concurrently:
   * with one spare, most small files would allocate (and the GC reclaim) a fresh 1 MiB window each.
   */
  readonly #spares: Buffer[] = [];
  /** fastcdc-wasm (format 1) or the keyed gear cutter (format 2); both restart their hash at every chunk. */
  readonly #cut: CutFunction;

  constructor(params: ChunkerParams, options: FastCdcOptions = {}) {
    this.params = Object.freeze(validateChunkerParams(params, 'argument'));
    this.#cut = cutterFor(this.params);
    const requested = options.windowSize ?? DEFAULT_WINDOW_SIZE;
    if (!Number.isSafeInteger(requested) || requested < 1 || requested > MAX_WINDOW_SIZE) {
      throw new RepoError('INVALID_ARGUMENT', `windowSize must be an integer from 1 to ${MAX_WINDOW_SIZE}`);
    }
    this.windowSize = Math.max(requested, 2 * this.params.max);
  }

  async *chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer, void, undefined> {
    const it = source[Symbol.asyncIterator]();
    let piece: Uint8Array | undefined;
    let pos = 0;
    let finished = false; // the source ended or threw: do not call its return()
    const read: ReadInto = async (buf, offset, length) => {
      while (piece === undefined || pos >= piece.length) {
        if (finished) return 0;
        let r: IteratorResult<Uint8Array>;
        try {
          r = await it.next();
        } catch (err) {
          finished = true;
          throw err;
        }
        if (r.done) {
          finished = true;
          piece = undefined;
          return 0;
        }
        if (!(r.value instanceof Uint8Array)) {
          throw new RepoError('INVALID_ARGUMENT', 'chunker source must yield Uint8Array pieces');
        }
        piece = r.value;
        pos = 0;
      }
      const n = Math.min(length, piece.length - pos);
      buf.set(n === piece.length ? piece : piece.subarray(pos, pos + n), offset);
      pos += n;
      return n;
    };
    try {
      yield* this.chunksFrom(read);
    } finally {
      if (!finished) await it.return?.();
    }
  }

  async *chunksFrom(read: ReadInto): AsyncGenerator<Buffer, void, undefined> {
    const { min, avg, max } = this.params;
    const full = this.windowSize;
    let window = this.#takeWindow();
    let filled = 0; // window[0, filled) holds the carried-over last chunk plus new bytes
    try {
      for (;;) {
        let eof = false;
        while (filled < window.length) {
          const free = window.length - filled;
          const n = await read(window, filled, free);
          if (!Number.isSafeInteger(n) || n < 0 || n > free) {
            throw new RepoError('INVALID_ARGUMENT', `chunker read returned ${n} for a request of ${free} bytes`);
          }
          if (n === 0) {
            eof = true;
            break;
          }
          filled += n;
        }

        if (eof) {
          // The input ends here, so every cut of this call is final, the last chunk included.
          if (filled === 0) return;
          const cuts = this.#cut(filled === window.length ? window : window.subarray(0, filled), min, avg, max);
          for (let i = 0; i + 1 < cuts.length; i++) yield copyOut(window, cuts[i], cuts[i + 1]);
          return;
        }

        if (window.length < full) {
          // Small windows first, so small inputs never allocate the full window.
          const bigger = Buffer.allocUnsafeSlow(Math.min(full, window.length * 2));
          window.copy(bigger, 0, 0, filled);
          window = bigger;
          continue;
        }

        // A full window (>= 2 x max bytes): emit every chunk but the last, which ends at the
        // window's end only because the window does; carry it over (it is at most max bytes).
        const cuts = this.#cut(window, min, avg, max);
        const n = cuts.length;
        if (n < 3) throw new Error(`fastcdc: no cut in a full window of ${full} bytes (max ${max})`);
        const carryStart = cuts[n - 2];
        for (let i = 0; i + 2 < n; i++) yield copyOut(window, cuts[i], cuts[i + 1]);
        window.copyWithin(0, carryStart, full);
        filled = full - carryStart;
      }
    } finally {
      this.#returnWindow(window);
    }
  }

  #takeWindow(): Buffer {
    return this.#spares.pop() ?? Buffer.allocUnsafeSlow(Math.min(this.windowSize, INITIAL_WINDOW_SIZE));
  }

  #returnWindow(w: Buffer): void {
    if (this.#spares.length < MAX_SPARE_WINDOWS) {
      this.#spares.push(w);
      return;
    }
    // Keep the largest windows: they are the expensive ones to grow again.
    const smallest = this.#spares.reduce((i, b, k, a) => (b.length < a[i].length ? k : i), 0);
    if (this.#spares[smallest].length < w.length) this.#spares[smallest] = w;
  }
}

export interface ChunkFileOptions {
  /** Largest single fs read, in bytes (default 4 MiB); reads go straight into the chunker's window. */
  readSize?: number;
  /** Aborting makes the iteration throw RepoError 'INTERRUPTED' before the next read. */
  signal?: AbortSignal;
  /**
   * Follow a symlink at `path` (default false: opening a symlink fails with O_NOFOLLOW, so a file
   * swapped for a link after the caller's lstat is not silently read through the link).
   */
  followSymlinks?: boolean;
}

function displayPath(path: string | Buffer): string {
  return typeof path === 'string' ? path : path.toString('utf8');
}

function sourceError(what: string, path: string | Buffer, err: unknown): RepoError {
  const shown = displayPath(path);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ?? errorMessage(err);
  return new RepoError('SOURCE', `${what} ${JSON.stringify(shown)}: ${reason}`, { path: shown }, { cause: err });
}

/**
 * Opens the file at `path` (a Buffer for names that are not valid UTF-8), reads it sequentially
 * with fs reads straight into the chunker's window and yields its chunks. The file is closed when
 * the iteration ends, throws or is abandoned with break/return. Open and read failures become
 * RepoError 'SOURCE' with context.path. Call it only on regular files (a FIFO would block).
 */
export async function* chunkFile(
  path: string | Buffer,
  chunker: Chunker,
  opts: ChunkFileOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const readSize = opts.readSize ?? DEFAULT_READ_SIZE;
  if (!Number.isSafeInteger(readSize) || readSize < 1) {
    throw new RepoError('INVALID_ARGUMENT', 'readSize must be a positive integer');
  }
  const signal = opts.signal;
  const checkAbort = (): void => {
    if (signal?.aborted) {
      throw new RepoError(
        'INTERRUPTED',
        `reading ${JSON.stringify(displayPath(path))} was aborted`,
        {
          path: displayPath(path),
        },
        { cause: signal.reason },
      );
    }
  };
  checkAbort();
  const flags = fsConstants.O_RDONLY | (opts.followSymlinks ? 0 : (fsConstants.O_NOFOLLOW ?? 0));
  let fh: FileHandle;
  try {
    fh = await open(path, flags);
  } catch (err) {
    throw sourceError('cannot open', path, err);
  }
  try {
    let position = 0;
    const read: ReadInto = async (buf, offset, length) => {
      checkAbort();
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, offset, Math.min(length, readSize), position));
      } catch (err) {
        throw sourceError('cannot read', path, err);
      }
      position += bytesRead;
      return bytesRead;
    };
    yield* chunker.chunksFrom(read);
  } finally {
    await fh.close().catch(() => undefined); // read-only: nothing to lose on a failed close
  }
}
