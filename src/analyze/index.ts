// Public surface of the analyzer: estimating dedupe, compression and index size of data under chunker settings.
// Must never export anything that writes to a repository.

export {
  analyzePaths,
  type AddedBytes,
  type AnalyzeOptions,
  type AnalyzeProgress,
  type AnalyzeReport,
  type AnalyzeRepo,
  type AnalyzeSettingReport,
  type AnalyzeSnapshotRow,
  type RepoComparison,
} from './analyze.js';
export {
  CHUNKER_SWEEP,
  INDEX_BYTES_PER_BLOB,
  SEAL_OVERHEAD,
  settingLabel,
  shortSize,
  uniqueSettings,
} from './settings.js';
export { defaultAnalyzeWorkers } from './pool.js';
export type { SourceWarning } from './sources.js';
