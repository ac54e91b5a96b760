// Public surface of the storage layer: the Backend interface, its implementations and location parsing.
// Must never contain logic of its own; it only re-exports.

export * from './backend.js';
export { LocalBackend, mapFsError, TEMP_PREFIX, TEMP_MAX_AGE_MS } from './local.js';
export { MemoryBackend } from './memory.js';
export { openBackend, createBackend, parseLocation, type ParsedLocation } from './open.js';
