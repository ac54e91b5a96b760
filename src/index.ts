// The library's public entry point: everything another Node program needs to create, back up into,
// list and restore a repository without the CLI. Internals not exported here may change without notice.

export * from './core/errors.js';
export { idToHex, idFromHex, shortId, isIdHex, type IdHex } from './core/id.js';
export type { Backend, FileType, Handle, FileInfo } from './backend/backend.js';
export { isNotFound } from './backend/backend.js';
export { LocalBackend } from './backend/local.js';
export { MemoryBackend } from './backend/memory.js';
export { openBackend, createBackend, requestCounts } from './backend/open.js';
export { CacheBackend, defaultCacheDir, type CacheOptions, type CacheStats } from './backend/cache.js';
export {
  createChunker,
  DEFAULT_CHUNKER_PARAMS,
  validateChunkerParams,
  type Chunker,
  type ChunkerParams,
} from './chunker/index.js';
export { calibrateScrypt, CHEAP_TEST_SCRYPT, type ScryptParams } from './crypto/kdf.js';
export {
  Repository,
  type InitOptions,
  type OpenOptions,
  type SaveBlobResult,
  type WriteStats,
} from './repository/repository.js';
export type { RepoConfig } from './repository/config.js';
export type { BlobType, IndexedBlob } from './repository/blob.js';
export { saveTree, loadTree } from './tree/tree-store.js';
export type { TreeNode, NodeType } from './tree/node.js';
export type { Tree } from './tree/tree.js';
export {
  listSnapshots,
  loadSnapshot,
  findSnapshot,
  matchesFilter,
  type Snapshot,
  type StoredSnapshot,
  type SnapshotFilter,
  type SnapshotSummary,
} from './snapshot/snapshot.js';
export * from './archiver/index.js';
export * from './restorer/index.js';
export { Lock, listLocks, removeLocks, isStale, type LockInfo, type LockOptions } from './repository/lock.js';
export {
  checkRepository,
  type CheckReport,
  type CheckOptions,
  type CheckProblem,
  type CheckNote,
} from './maintenance/check.js';
export { parseSubset, type DataSubset } from './maintenance/subset.js';
export { repairIndex, type RepairIndexReport } from './maintenance/repair-index.js';
export { repairPacks, type RepairPacksReport } from './maintenance/repair-packs.js';
export { repairSnapshots, type RepairSnapshotsReport } from './maintenance/repair-snapshots.js';
export { copySnapshots, type CopyOptions, type CopyResult, type CopiedSnapshot } from './maintenance/copy.js';
export {
  listKeys,
  addKey,
  removeKey,
  changePassword,
  type KeyInfo,
  type AddKeyOptions,
} from './repository/key-management.js';
export * from './ops/index.js';
export * from './policy/index.js';
export { planForget, executeForget, type ForgetPlan, type ForgetGroup } from './maintenance/forget.js';
export {
  planPrune,
  decidePrune,
  pruneHasWork,
  parseMaxUnused,
  type PruneOptions,
  type PrunePlan,
  type BlobToCopy,
  type MaxUnused,
} from './maintenance/prune-plan.js';
export { gatherPruneInputs, type PruneInputs } from './maintenance/prune-gather.js';
export { executePrune, type PruneResult } from './maintenance/prune-execute.js';
export {
  computeStats,
  STATS_MODES,
  type StatsMode,
  type StatsReport,
  type StatsOptions,
  type StatsSummary,
} from './maintenance/stats.js';
export {
  diffTrees,
  diffSnapshots,
  sameMetadata,
  type DiffResult,
  type DiffOptions,
  type DiffChange,
  type DiffStat,
  type DiffStats,
} from './snapshot/diff.js';
export {
  findPaths,
  findObjects,
  resolveTargets,
  compilePatterns,
  type FindPathsOptions,
  type SnapshotMatches,
  type PathMatch,
  type ObjectHit,
  type ObjectQuery,
  type ObjectTargets,
} from './snapshot/find.js';
export { tagSnapshots, validateTagChanges, applyTagChanges, type TagChanges, type TagResult } from './snapshot/tag.js';
export {
  analyzePaths,
  defaultAnalyzeWorkers,
  type AnalyzeOptions,
  type AnalyzeProgress,
  type AnalyzeReport,
  type AnalyzeSettingReport,
  type AnalyzeSnapshotRow,
} from './analyze/index.js';
