// Public surface of the storage layer: the Backend interface, its implementations and location parsing.
// Must never contain logic of its own; it only re-exports.

export * from './backend.js';
export { LocalBackend, mapFsError, TEMP_PREFIX, TEMP_MAX_AGE_MS } from './local.js';
export { MemoryBackend } from './memory.js';
export { CacheBackend, defaultCacheDir, findCache, attachCache, type CacheOptions, type CacheStats } from './cache.js';
export {
  RetryBackend,
  DEFAULT_RETRY_ATTEMPTS,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_MAX_DELAY_MS,
  type RetryInfo,
  type RetryOptions,
} from './retry.js';
export {
  parseS3Location,
  formatS3Location,
  s3OptionsFromEnv,
  s3ConfigFor,
  validateS3Options,
  S3_ENV_VARS,
  type S3Location,
  type S3Options,
  type S3ServerSideEncryption,
} from './s3-location.js';
// Type only: the class lives in './s3.js', imported on demand so that the AWS SDK loads only for s3: locations.
export type { S3Backend, S3BackendConfig } from './s3.js';
export { mapS3Error, isTransientS3Error } from './s3-errors.js';
export { rangeHeader, bytesOfRangeResponse, type RangeResponse } from './http-range.js';
export {
  parseSftpLocation,
  formatSftpLocation,
  resolveSftpTarget,
  type SftpLocation,
  type SftpOptions,
  type SftpTarget,
} from './sftp-location.js';
// Type only, like S3Backend: ssh2 loads only for sftp: locations.
export type { SftpBackend } from './sftp.js';
export {
  openBackend,
  openBackendWithoutConfig,
  createBackend,
  parseLocation,
  requestCounts,
  type ParsedLocation,
  type OpenOptions,
} from './open.js';
export { WrappingBackend, layers, unwrap, innermost, isRemoteStack } from './stack.js';
export { DryRunBackend } from './dry-run.js';
export { RateLimitedBackend, ByteBudget, type RateLimits } from './rate-limit.js';
export { SchemeRegistry, EXTENDED_OPTIONS, type SchemeFactory, type ConnectedBackend } from './registry.js';
export { SCHEMES } from './schemes.js';
export { RestBackend, type RestBackendConfig } from './rest.js';
export { parseRestLocation, formatRestLocation, restScheme, type RestLocation } from './rest-location.js';
export { parseRcloneLocation, formatRcloneLocation, rcloneScheme, type RcloneLocation } from './rclone.js';
