// Public surface of the archiver.
export { backupPaths, backupStream, PROGRAM_VERSION, describeFsError } from './archiver.js';
export type { ArchiverRepo, BackupOptions, BackupResult, SourceWarning } from './archiver.js';
export type { BackupProgress } from './progress.js';
export { compileRules, parseExcludeFile, type ExcludeRule } from './exclude.js';
