// How S3 (AWS SDK) and network errors become repository errors: which ones are worth retrying, and the
// one-line messages users see. Must never put credentials or a whole server reply into a message.

import { BackendError, NotFoundError, RepoError } from '../core/errors.js';
import { TransientBackendError, isTransientNetworkError } from './backend.js';

/** HTTP statuses that mean "try again later". */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/** S3 error codes that mean "try again" (throttling, server trouble, a body damaged on the way). */
const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'OperationAborted',
  'BadDigest',
  'IncompleteBody',
  'TimeoutError',
]);

export interface S3ErrorShape {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as S3ErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

export function codeOf(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const o = err as S3ErrorShape;
  for (const c of [o.Code, o.name, o.code]) if (typeof c === 'string' && c !== '' && c !== 'Error') return c;
  return undefined;
}

function messageOf(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.length > 300 ? `${m.slice(0, 300)}…` : m;
}

function isAbort(err: unknown): boolean {
  const o = err as S3ErrorShape | null;
  return o !== null && typeof o === 'object' && (o.name === 'AbortError' || o.code === 'ABORT_ERR');
}

/** Whether an SDK or network error is worth retrying. */
export function isTransientS3Error(err: unknown): boolean {
  if (isAbort(err)) return false;
  const status = statusOf(err);
  const code = codeOf(err);
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return true;
  if (code !== undefined && TRANSIENT_CODES.has(code)) return true;
  const retryable = (err as S3ErrorShape | null)?.$retryable;
  if (retryable !== undefined && retryable !== null && retryable !== false) return true;
  return isTransientNetworkError(err);
}

/**
 * Maps an AWS SDK (or network) error about the repository file `file` to a RepoError: an abort →
 * INTERRUPTED; 404/NoSuchKey/NotFound → NotFoundError (a missing bucket is a BackendError instead);
 * throttling, 5xx, timeouts and dropped connections → TransientBackendError; anything else → a
 * permanent BackendError. RepoErrors pass through. Messages carry the S3 code and HTTP status only.
 */
export function mapS3Error(
  err: unknown,
  file: string,
  action: string,
  opts: { mayHaveSucceeded?: boolean; context?: Record<string, string | number> } = {},
): RepoError {
  if (err instanceof RepoError) return err;
  const status = statusOf(err);
  const code = codeOf(err);
  const ctx: Record<string, string | number> = { file, ...opts.context };
  if (status !== undefined) ctx.status = status;
  if (code !== undefined) ctx.s3code = code;
  const cause = { cause: err };
  if (isAbort(err)) return new RepoError('INTERRUPTED', 'operation aborted', { file }, cause);
  if (code === 'NoSuchBucket') {
    return new BackendError(`cannot ${action} ${file}: the bucket does not exist`, ctx, cause);
  }
  if (status === 404 || code === 'NoSuchKey' || code === 'NotFound') {
    return new NotFoundError(`${file} not found`, { file }, cause);
  }
  const how = [code, status === undefined ? undefined : `HTTP ${status}`].filter((x) => x !== undefined).join(', ');
  const detail = `${messageOf(err)}${how === '' ? '' : ` (${how})`}`;
  if (isTransientS3Error(err)) {
    return new TransientBackendError(`cannot ${action} ${file}: ${detail}`, ctx, {
      cause: err,
      mayHaveSucceeded: opts.mayHaveSucceeded ?? false,
    });
  }
  if (status === 403 || code === 'AccessDenied' || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch') {
    return new BackendError(
      `access denied: cannot ${action} ${file} (${how || 'HTTP 403'}); check the S3 credentials`,
      ctx,
      cause,
    );
  }
  if (code === 'CredentialsProviderError') {
    return new BackendError(
      `cannot ${action} ${file}: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)`,
      ctx,
      cause,
    );
  }
  if (/region is missing/i.test(messageOf(err))) {
    return new BackendError(`cannot ${action} ${file}: no S3 region configured (set AWS_REGION)`, ctx, cause);
  }
  return new BackendError(`cannot ${action} ${file}: ${detail}`, ctx, cause);
}
