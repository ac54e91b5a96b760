// Public surface of the restorer: restoring snapshots into a directory and resolving paths inside snapshots.
// Must never contain logic of its own; it only re-exports.

export { restoreSnapshot } from './restore.js';
export { resolvePath, resolveSnapshotPath, splitPath, storedPath, type ResolvedPath } from './resolve.js';
export type {
  DamagedFile,
  OverwriteMode,
  RestoreOptions,
  RestoreProgress,
  RestoreResult,
  RestoreWarning,
} from './types.js';
export { RestoreDamagedError } from './types.js';
export { splitDev } from './fsops.js';
