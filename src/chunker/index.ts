// Public surface of the chunker: content-defined chunking of file contents into data blobs.
// Must never export anything that lets callers bypass parameter validation.

export {
  CHUNKER_LIMITS,
  DEFAULT_CHUNKER_PARAMS,
  FASTCDC_ALGORITHM,
  KEYED_GEAR_ALGORITHM,
  createChunker,
  validateChunkerParams,
  type Chunker,
  type ChunkerParams,
  type ParamsOrigin,
  type ReadInto,
} from './chunker.js';
export {
  DEFAULT_READ_SIZE,
  DEFAULT_WINDOW_SIZE,
  MAX_WINDOW_SIZE,
  FastCdcChunker,
  chunkFile,
  fastcdcBoundaries,
  type ChunkFileOptions,
  type FastCdcOptions,
} from './fastcdc.js';
export { CHUNKER_SECRET_LENGTH, GEAR_TABLE_CONTEXT, keyedGearBoundaries, keyedGearTable } from './keyed-gear.js';
