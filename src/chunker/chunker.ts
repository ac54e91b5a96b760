// The chunker interface, so that a keyed chunker can replace FastCDC in a later format version.
// Must never produce boundaries that depend on how the input was split, read or buffered.

import { FastCdcChunker, type FastCdcOptions } from './fastcdc.js';
import { validateChunkerParams, type ChunkerParams } from './params.js';

export {
  CHUNKER_LIMITS,
  DEFAULT_CHUNKER_PARAMS,
  FASTCDC_ALGORITHM,
  KEYED_GEAR_ALGORITHM,
  validateChunkerParams,
  type ChunkerAlgorithm,
  type ChunkerParams,
  type ParamsOrigin,
} from './params.js';

/**
 * Fills `buffer[offset, offset + length)` with the next bytes of the input and resolves to how
 * many it wrote; 0 means end of input (and only then). Same contract as fs FileHandle.read.
 */
export type ReadInto = (buffer: Uint8Array, offset: number, length: number) => Promise<number>;

export interface Chunker {
  readonly params: ChunkerParams;
  /**
   * Splits the concatenation of `source`'s pieces into chunks. Each yielded Buffer is a fresh,
   * independent copy. An empty input yields nothing. Boundaries depend only on the bytes.
   * A piece may be reused by the source once the next piece is requested.
   */
  chunks(source: AsyncIterable<Uint8Array>): AsyncIterable<Buffer>;
  /** Same as `chunks`, but pulls bytes straight into the chunker's window (no extra copy). */
  chunksFrom(read: ReadInto): AsyncIterable<Buffer>;
}

/** Validates `params` (RepoError 'INVALID_ARGUMENT' if bad) and returns a chunker for them. */
export function createChunker(params: ChunkerParams, options: FastCdcOptions = {}): Chunker {
  const p = validateChunkerParams(params, 'argument');
  switch (p.algorithm) {
    case 'fastcdc-ronomon':
    case 'gear-keyed':
      return new FastCdcChunker(p, options);
  }
}
