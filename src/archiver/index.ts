// Public surface of the archiver.
export { backupPaths, backupStream, PROGRAM_VERSION, type BackupResult } from './archiver.js';
export {
  describeFsError,
  type ArchiverRepo,
  type BackupItem,
  type BackupOptions,
  type SourceWarning,
} from './state.js';
export { findParent, type GroupBy } from './parent.js';
export type { BackupProgress } from './progress.js';
export { compileRules, expandEnv, invalidPatterns, parseExcludeFile, type ExcludeRule } from './exclude.js';
export { CACHEDIR_TAG_SPEC, parseTagFileSpec } from './exclude-fs.js';
export { StatPrefetch } from './stat-prefetch.js';
export { goGlob, readFilesFrom, type FilesFromKind, type FilesFromResult } from './files-from.js';
