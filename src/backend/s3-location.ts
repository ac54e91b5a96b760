// Parses `s3:` repository locations and the REPO_S3_* environment options; loads no AWS SDK code.
// Must never echo a location's text in an error (it may hold credentials) nor accept credentials in a URL.

import { RepoError } from '../core/errors.js';

/** Where an S3 repository lives. */
export interface S3Location {
  /**
   * Origin of a custom (S3-compatible) endpoint, e.g. `http://127.0.0.1:9000`; undefined for
   * Amazon S3 itself (the SDK picks the regional endpoint).
   */
  endpoint?: string;
  bucket: string;
  /** Key prefix without leading or trailing '/', e.g. `backups/laptop`; '' for the bucket root. */
  prefix: string;
  /** Region taken from an Amazon host such as `s3.eu-west-1.amazonaws.com`, if the location named one. */
  region?: string;
}

/** Server-side encryption modes S3 accepts in `x-amz-server-side-encryption`. */
export type S3ServerSideEncryption = 'AES256' | 'aws:kms' | 'aws:kms:dsse';

/** Tuning and policy for an S3 backend. Every field is optional; defaults are given per field. */
export interface S3Options {
  /** Region; default AWS_REGION / AWS_DEFAULT_REGION, then the SDK chain (profile), and us-east-1 for custom endpoints. */
  region?: string;
  /** Path-style addressing (`host/bucket/key`); default true for custom endpoints, false for Amazon S3. */
  pathStyle?: boolean;
  /** Storage class for data packs only (metadata stays STANDARD); default: the bucket's default. */
  storageClass?: string;
  /** Server-side encryption for every object written. */
  sse?: S3ServerSideEncryption;
  /** KMS key id for sse 'aws:kms' / 'aws:kms:dsse' (implies 'aws:kms' when sse is not given). */
  sseKmsKeyId?: string;
  /** Most requests in flight at once; default 5. */
  connections?: number;
  /** Whether create() makes a missing bucket; default true. */
  createBucket?: boolean;
  /** Shared-config profile; default AWS_PROFILE (read by the SDK). */
  profile?: string;
  /** Explicit credentials (tests, embedding); default: the AWS SDK credential chain. Never shown anywhere. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Objects larger than this are sent as multipart uploads; default 64 MiB (minimum 5 MiB). */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads; default 16 MiB (minimum 5 MiB). */
  partSizeBytes?: number;
  /** Keys per ListObjectsV2 page (MaxKeys); default 1000. */
  listPageSize?: number;
  /** Connection set-up timeout in ms; default 10 000. */
  connectTimeoutMs?: number;
  /** A socket idle for this long (ms) is abandoned as a transient failure; default 60 000. */
  socketTimeoutMs?: number;
}

/** The environment variables s3OptionsFromEnv reads (all optional). */
export const S3_ENV_VARS = {
  pathStyle: 'REPO_S3_PATH_STYLE',
  storageClass: 'REPO_S3_STORAGE_CLASS',
  sse: 'REPO_S3_SSE',
  sseKmsKeyId: 'REPO_S3_SSE_KMS_KEY_ID',
  connections: 'REPO_S3_CONNECTIONS',
} as const;

const AWS_HOST_RE = /^s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com(?:\.cn)?$/i;
// Lenient enough for S3-compatible servers (MinIO, Ceph), strict enough to keep keys and URLs sane.
const BUCKET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/;
// eslint-disable-next-line no-control-regex
const BAD_SEGMENT_CHARS = /[\u0000-\u001f\u007f\\]/;

function invalid(message: string): RepoError {
  return new RepoError('INVALID_ARGUMENT', message);
}

/** Region named by an Amazon host (`s3.eu-west-1.amazonaws.com` → eu-west-1), or undefined. */
function regionOfAwsHost(host: string): string | undefined {
  const m = AWS_HOST_RE.exec(host);
  if (m === null) return undefined;
  const r = m[1];
  return r === undefined || r === 'external-1' ? undefined : r.replace(/^dualstack\./, '');
}

function checkedPath(segments: string[]): { bucket: string; prefix: string } {
  const parts = segments.filter((s) => s !== '');
  if (parts.length === 0) throw invalid('an S3 repository location needs a bucket: s3:BUCKET[/PREFIX]');
  const [bucket, ...rest] = parts;
  if (!BUCKET_RE.test(bucket)) {
    throw invalid(
      'invalid S3 bucket name: use 3 to 255 letters, digits, ".", "-" or "_", starting with a letter or digit',
    );
  }
  for (const seg of rest) {
    if (seg === '.' || seg === '..' || BAD_SEGMENT_CHARS.test(seg)) {
      throw invalid('invalid S3 key prefix: it must not contain ".", ".." segments, backslashes or control characters');
    }
  }
  return { bucket, prefix: rest.join('/') };
}

/**
 * Parses what follows `s3:` in a repository location:
 * - `https://HOST[:PORT]/BUCKET[/PREFIX]` or `http://…` → a custom S3-compatible endpoint
 *   (an Amazon host such as `s3.eu-west-1.amazonaws.com` selects Amazon S3 and its region);
 * - `BUCKET[/PREFIX]` → Amazon S3 (restic's `s3.amazonaws.com/BUCKET[/PREFIX]` is accepted too).
 * Credentials in the URL, a query or a fragment → RepoError('INVALID_ARGUMENT'), never echoing the text.
 */
export function parseS3Location(rest: string): S3Location {
  if (rest === '') throw invalid('no bucket given after "s3:"');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw invalid('invalid S3 endpoint URL after "s3:"');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw invalid('an S3 endpoint URL must start with http:// or https://');
    }
    if (url.username !== '' || url.password !== '') {
      throw invalid(
        'credentials in an S3 location are not supported; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE',
      );
    }
    if (url.search !== '' || url.hash !== '') throw invalid('an S3 location must not have a query or a fragment');
    let segments: string[];
    try {
      segments = url.pathname.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw invalid('invalid percent-encoding in the S3 location');
    }
    const { bucket, prefix } = checkedPath(segments);
    if (AWS_HOST_RE.test(url.hostname) && url.protocol === 'https:' && url.port === '') {
      const region = regionOfAwsHost(url.hostname);
      return region === undefined ? { bucket, prefix } : { bucket, prefix, region };
    }
    return { endpoint: url.origin, bucket, prefix };
  }
  const segments = rest.split('/');
  if (segments.length > 1 && AWS_HOST_RE.test(segments[0])) {
    const region = regionOfAwsHost(segments[0]);
    const { bucket, prefix } = checkedPath(segments.slice(1));
    return region === undefined ? { bucket, prefix } : { bucket, prefix, region };
  }
  return checkedPath(segments);
}

/** The display form of an S3 location (`s3:ENDPOINT/BUCKET/PREFIX` or `s3:BUCKET/PREFIX`); holds no credentials. */
export function formatS3Location(loc: S3Location): string {
  const path = loc.prefix === '' ? loc.bucket : `${loc.bucket}/${loc.prefix}`;
  return loc.endpoint === undefined ? `s3:${path}` : `s3:${loc.endpoint}/${path}`;
}

function parseBool(name: string, v: string): boolean {
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no') return false;
  throw invalid(`${name} must be true or false`);
}

/** Checks option values; returns them unchanged. Throws RepoError('INVALID_ARGUMENT') naming the bad option. */
export function validateS3Options(o: S3Options): S3Options {
  if (
    o.connections !== undefined &&
    (!Number.isSafeInteger(o.connections) || o.connections < 1 || o.connections > 1000)
  ) {
    throw invalid('S3 connections must be an integer from 1 to 1000');
  }
  if (o.storageClass !== undefined && !/^[A-Z][A-Z0-9_]*$/.test(o.storageClass)) {
    throw invalid('S3 storage class must be an upper-case name such as STANDARD_IA');
  }
  if (o.sse !== undefined && !['AES256', 'aws:kms', 'aws:kms:dsse'].includes(o.sse)) {
    throw invalid('S3 server-side encryption must be AES256, aws:kms or aws:kms:dsse');
  }
  if (o.sseKmsKeyId !== undefined && o.sse === 'AES256') {
    throw invalid('an S3 KMS key id needs server-side encryption aws:kms, not AES256');
  }
  const MIN_PART = 5 * 1024 * 1024;
  if (o.partSizeBytes !== undefined && (!Number.isSafeInteger(o.partSizeBytes) || o.partSizeBytes < MIN_PART)) {
    throw invalid('S3 part size must be at least 5 MiB');
  }
  if (
    o.multipartThresholdBytes !== undefined &&
    (!Number.isSafeInteger(o.multipartThresholdBytes) || o.multipartThresholdBytes < MIN_PART)
  ) {
    throw invalid('S3 multipart threshold must be at least 5 MiB');
  }
  if (
    o.listPageSize !== undefined &&
    (!Number.isSafeInteger(o.listPageSize) || o.listPageSize < 1 || o.listPageSize > 1000)
  ) {
    throw invalid('S3 list page size must be an integer from 1 to 1000');
  }
  for (const [k, v] of [
    ['connect timeout', o.connectTimeoutMs],
    ['socket timeout', o.socketTimeoutMs],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
      throw invalid(`S3 ${k} must be a non-negative integer (ms)`);
  }
  return o;
}

/**
 * Reads REPO_S3_PATH_STYLE (true|false), REPO_S3_STORAGE_CLASS, REPO_S3_SSE (AES256|aws:kms|aws:kms:dsse),
 * REPO_S3_SSE_KMS_KEY_ID and REPO_S3_CONNECTIONS from `env`. Unset or empty variables are left out.
 * Malformed values → RepoError('INVALID_ARGUMENT') naming the variable. Credentials, region and profile
 * are not read here: the AWS SDK reads AWS_* itself.
 */
export function s3OptionsFromEnv(env: Record<string, string | undefined>): S3Options {
  const o: S3Options = {};
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const ps = get(S3_ENV_VARS.pathStyle);
  if (ps !== undefined) o.pathStyle = parseBool(S3_ENV_VARS.pathStyle, ps);
  const sc = get(S3_ENV_VARS.storageClass);
  if (sc !== undefined) o.storageClass = sc.toUpperCase();
  const sse = get(S3_ENV_VARS.sse);
  if (sse !== undefined) {
    const norm = sse.toLowerCase() === 'aes256' ? 'AES256' : sse.toLowerCase();
    if (norm !== 'AES256' && norm !== 'aws:kms' && norm !== 'aws:kms:dsse') {
      throw invalid(`${S3_ENV_VARS.sse} must be AES256, aws:kms or aws:kms:dsse`);
    }
    o.sse = norm;
  }
  const kms = get(S3_ENV_VARS.sseKmsKeyId);
  if (kms !== undefined) o.sseKmsKeyId = kms;
  const conns = get(S3_ENV_VARS.connections);
  if (conns !== undefined) {
    if (!/^\d+$/.test(conns)) throw invalid(`${S3_ENV_VARS.connections} must be a positive integer`);
    o.connections = Number(conns);
  }
  try {
    return validateS3Options(o);
  } catch (err) {
    if (err instanceof RepoError) {
      throw invalid(`${err.message} (from the REPO_S3_* environment variables)`);
    }
    throw err;
  }
}

/**
 * The full configuration of an S3 backend: the location, then the REPO_S3_* variables of `env`,
 * then `explicit` options (which win). The region comes from `explicit`, the location's host,
 * AWS_REGION or AWS_DEFAULT_REGION, in that order; when none names one, the SDK's chain (profile)
 * decides for Amazon S3 and us-east-1 is used for custom endpoints.
 */
export function s3ConfigFor(
  loc: S3Location,
  explicit: S3Options = {},
  env: Record<string, string | undefined> = {},
): S3Location & S3Options {
  const fromEnv = s3OptionsFromEnv(env);
  const defined = Object.fromEntries(Object.entries(explicit).filter(([, v]) => v !== undefined)) as S3Options;
  const merged: S3Location & S3Options = { ...loc, ...fromEnv, ...validateS3Options(defined) };
  const envRegion = [env.AWS_REGION, env.AWS_DEFAULT_REGION].find((r) => r !== undefined && r.trim() !== '');
  const region = defined.region ?? loc.region ?? envRegion?.trim();
  if (region !== undefined) merged.region = region;
  else delete merged.region;
  return merged;
}
