// createChunker: the chunker that a repository's parameters name, after validating them; the interface every
// algorithm implements is in chunker-interface.ts. Must never hand out a chunker for parameters that failed validation.

import { FastCdcChunker, type FastCdcOptions } from './fastcdc.js';
import type { Chunker } from './chunker-interface.js';
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

export type { Chunker, ReadInto } from './chunker-interface.js';

/** Validates `params` (RepoError 'INVALID_ARGUMENT' if bad) and returns a chunker for them. */
export function createChunker(params: ChunkerParams, options: FastCdcOptions = {}): Chunker {
  const p = validateChunkerParams(params, 'argument');
  switch (p.algorithm) {
    case 'fastcdc-ronomon':
    case 'gear-keyed':
      return new FastCdcChunker(p, options);
  }
}
