// Public surface of the operations layer: repo.yaml profiles, running jobs, scheduling, status/metrics,
// monitoring pings and the audit log. Everything the `run`, `schedule`, `status` and `log` commands use.
export {
  loadConfig,
  parseConfig,
  configJsonSchema,
  findConfigFile,
  selectProfiles,
  repositoryKey,
  validateCron,
  ConfigError,
  type OpsConfig,
  type ProfileConfig,
  type DatabaseConfig,
  type CopyTarget,
  type ConfigIssue,
} from './config.js';
export { runProfile, type JobResult, type JobStatus, type RunOptions, type StepResult } from './profile-runner.js';
export { Scheduler, latestSlot, nextSlot, type ScheduleSpec, type ScheduleState, type DueRun } from './schedule.js';
export { runDaemon, scheduleSpecs, type DaemonOptions } from './daemon.js';
export {
  profileStatus,
  metricsText,
  writeMetricsFile,
  storedBytesOf,
  type ProfileStatus,
  type ObjectiveStatus,
} from './status.js';
export { Monitor, healthcheckUrl, type MonitorEvent, type MonitorReport } from './monitor.js';
export {
  appendAudit,
  readAuditLog,
  verifyAuditLog,
  loadAuditEntry,
  matchesAudit,
  sortAudit,
  tryAppendAudit,
  acknowledgeAuditProblems,
  AUDIT_VERSION,
  type AuditEntry,
  type StoredAuditEntry,
  type AuditRecord,
  type AuditResult,
  type AuditFilter,
  type AuditLog,
  type AuditProblem,
  type AuditNote,
  type AuditVerification,
} from './audit.js';
export { systemdUnits, crontabLines, cronToOnCalendar, type UnitOptions } from './units.js';
export { dumpCommand, type DumpCommand } from './dumps.js';
export { parseOpsDuration, parseWindow, inWindow, type TimeWindow } from './time.js';
export { defaultStateDir } from './state.js';
