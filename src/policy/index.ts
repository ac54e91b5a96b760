// Public surface of retention policies (`repo forget --keep-*`): parse options, group snapshots, decide keep/remove.
// Everything here is pure; deleting snapshot files is the caller's job.
export { applyPolicy, sortNewestFirst, type ApplyOptions, type KeepReason, type PolicyResult } from './apply.js';
export { parseDuration, formatDuration, isZeroDuration, type Duration } from './duration.js';
export {
  parseKeepCount,
  isEmptyPolicy,
  validatePolicy,
  describePolicy,
  formatTagList,
  type RetentionPolicy,
} from './policy.js';
export {
  groupSnapshots,
  parseGroupBy,
  formatGroupKey,
  DEFAULT_GROUP_BY,
  type GroupByField,
  type GroupKey,
  type SnapshotGroup,
} from './group.js';
export { isoWeek, wallTime, subtractCalendar, machineZone, type ZoneOffset } from './calendar.js';
