// Backend storing a repository in an S3 bucket (Amazon S3 or an S3-compatible server) under a key prefix.
// Must never return partial data, never send streaming (aws-chunked) payloads, and never show credentials.

import {
  CreateBucketCommand,
  type CreateBucketCommandInput,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Semaphore } from '../core/concurrency.js';
import { BackendError, RepoError } from '../core/errors.js';
import {
  existsByStat,
  type Backend,
  type FileInfo,
  type FileType,
  type Handle,
  type SaveData,
  type SaveOptions,
  TransientBackendError,
  concatSaveData,
  handleToPath,
  isNotFound,
  isValidName,
  resolveRange,
  throwIfAborted,
  validateFileType,
  validateRangeArgs,
} from './backend.js';
import { bytesOfRangeResponse, rangeHeader, truncated, type RangeResponse } from './http-range.js';
import type { ObjectRetention } from './object-lock.js';
import { contentMd5, readBody } from './s3-body.js';
import { S3ObjectLock } from './s3-object-lock.js';
import { codeOf, mapS3Error, statusOf } from './s3-errors.js';
import { type S3Location, type S3Options, formatS3Location, validateS3Options } from './s3-location.js';

export const DEFAULT_S3_CONNECTIONS = 5;
export const DEFAULT_S3_MULTIPART_THRESHOLD = 64 * 1024 * 1024;
export const DEFAULT_S3_PART_SIZE = 16 * 1024 * 1024;

/** Everything an S3Backend needs: where (S3Location) and how (S3Options). */
export type S3BackendConfig = S3Location & S3Options;

const CONFIG: Handle = { type: 'config', name: 'config' };
const DATA_KEY_RE = /^([0-9a-f]{2})\/([0-9a-f]{64})$/;

type GetResult = ({ kind: 'body' } & RangeResponse) | { kind: 'unsatisfiable' };

/**
 * A repository under `PREFIX/` in an S3 bucket, laid out exactly like a local one (`config`,
 * `keys/<id>`, `data/<id[0:2]>/<id>`, `index/<id>`, `snapshots/<id>`, `locks/<id>`). Every save
 * is a single PUT (objects above the multipart threshold use a multipart upload), which S3 makes
 * visible atomically. Requests are plain (no aws-chunked payloads, no flexible checksums) and
 * carry Content-MD5, so the server rejects a body damaged on the way. At most `connections`
 * requests run at once. The SDK's own retries are off: wrap in RetryBackend (open.ts does).
 */
export class S3Backend implements Backend {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  /** The SDK client (for tests and diagnostics, e.g. adding middleware). */
  readonly client: S3Client;
  /**
   * HTTP requests sent so far, by S3 operation without the "Command" suffix (GetObject, PutObject,
   * HeadObject, ListObjectsV2, DeleteObject, UploadPart, …); every attempt counts.
   */
  readonly requests: Record<string, number> = {};
  private readonly keyPrefix: string;
  private readonly endpoint: string | undefined;
  private readonly sem: Semaphore;
  private readonly storageClass: string | undefined;
  private readonly sse: S3Options['sse'];
  private readonly sseKmsKeyId: string | undefined;
  private readonly createBucketIfMissing: boolean;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly listPageSize: number;
  private closed = false;
  /** Object Lock (s3-object-lock.ts): writes locked objects once a repository with a lock policy is opened. */
  readonly objectLock: S3ObjectLock;

  constructor(cfg: S3BackendConfig) {
    validateS3Options(cfg);
    this.bucket = cfg.bucket;
    this.prefix = cfg.prefix;
    this.endpoint = cfg.endpoint;
    this.keyPrefix = cfg.prefix === '' ? '' : `${cfg.prefix}/`;
    this.location = formatS3Location({ endpoint: cfg.endpoint, bucket: cfg.bucket, prefix: cfg.prefix });
    const connections = cfg.connections ?? DEFAULT_S3_CONNECTIONS;
    this.sem = new Semaphore(connections);
    this.storageClass = cfg.storageClass;
    this.sseKmsKeyId = cfg.sseKmsKeyId;
    this.sse = cfg.sse ?? (cfg.sseKmsKeyId === undefined ? undefined : 'aws:kms');
    this.createBucketIfMissing = cfg.createBucket ?? true;
    this.multipartThreshold = cfg.multipartThresholdBytes ?? DEFAULT_S3_MULTIPART_THRESHOLD;
    this.partSize = cfg.partSizeBytes ?? DEFAULT_S3_PART_SIZE;
    this.listPageSize = cfg.listPageSize ?? 1000;

    // The SDK warns once per process that its 2027 releases will need Node 22; that is not actionable
    // for a user of this tool, so it is silenced unless the user set the variable either way.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const agent = { keepAlive: true, maxSockets: connections };
    const region = cfg.region ?? (cfg.endpoint === undefined ? undefined : 'us-east-1');
    const config: S3ClientConfig = {
      forcePathStyle: cfg.pathStyle ?? cfg.endpoint !== undefined,
      // Plain payloads: s3rver (and some other servers) store aws-chunked framing verbatim.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // RetryBackend is the only retry layer; SDK retries on top would multiply attempts.
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: cfg.connectTimeoutMs ?? 10_000,
        socketTimeout: cfg.socketTimeoutMs ?? 60_000,
        httpAgent: agent,
        httpsAgent: agent,
      },
    };
    if (region !== undefined) config.region = region;
    if (cfg.endpoint !== undefined) config.endpoint = cfg.endpoint;
    else config.followRegionRedirects = true;
    if (cfg.credentials !== undefined) config.credentials = { ...cfg.credentials };
    if (cfg.profile !== undefined) config.profile = cfg.profile;
    this.client = new S3Client(config);
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.requests[op] = (this.requests[op] ?? 0) + 1;
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'repoRequestCounter' },
    );
    this.objectLock = new S3ObjectLock({
      client: this.client,
      bucket: this.bucket,
      key: (rel) => this.key(rel),
      call: (file, action, fn) => this.call(file, action, undefined, fn),
    });
  }

  retention(): ObjectRetention {
    return this.objectLock;
  }

  /** The total number of requests sent so far. */
  get requestCount(): number {
    return Object.values(this.requests).reduce((a, b) => a + b, 0);
  }

  private key(rel: string): string {
    return this.keyPrefix + rel;
  }

  /** Runs one request (and the reading of its body) under the connection limit, mapping errors. */
  private async call<T>(
    file: string,
    action: string,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
    mapOpts?: { mayHaveSucceeded?: boolean },
  ): Promise<T> {
    throwIfAborted(signal, file);
    if (this.closed) throw new BackendError(`cannot ${action} ${file}: the backend is closed`, { file });
    await this.sem.acquire();
    try {
      throwIfAborted(signal, file);
      return await fn();
    } catch (err) {
      throw mapS3Error(err, file, action, mapOpts);
    } finally {
      this.sem.release();
    }
  }

  private async headObject(rel: string, action: string): Promise<HeadObjectCommandOutput> {
    return this.call(rel, action, undefined, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(rel) })),
    );
  }

  private async head(rel: string, action: string): Promise<number> {
    return (await this.headObject(rel, action)).ContentLength ?? 0;
  }

  /** Whether the bucket exists (a bucket we may not inspect, HTTP 403, counts as existing). */
  async bucketExists(): Promise<boolean> {
    try {
      await this.call(this.bucket, 'check bucket', undefined, () =>
        this.client.send(new HeadBucketCommand({ Bucket: this.bucket })),
      );
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      if (err instanceof RepoError && err.context.status === 403) return true;
      throw err;
    }
  }

  /**
   * For opening: succeeds if the config exists; otherwise RepoError('REPO_NOT_FOUND') when the
   * bucket is missing, RepoError('NOT_A_REPOSITORY') when it exists. Creates nothing.
   */
  async checkRepository(): Promise<void> {
    if (await this.exists(CONFIG)) return;
    if (!(await this.bucketExists())) {
      throw new RepoError('REPO_NOT_FOUND', `no repository at ${this.location}: the bucket does not exist`, {
        path: this.location,
      });
    }
    throw new RepoError('NOT_A_REPOSITORY', `${this.location} is not a repository: it has no config`, {
      path: this.location,
    });
  }

  /** For init: RepoError('INVALID_ARGUMENT') if any object exists under the prefix (or in the bucket, without one). */
  async checkEmpty(): Promise<void> {
    const out = await this.call(this.location, 'list', undefined, () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyPrefix, MaxKeys: 1 })),
    );
    if ((out.KeyCount ?? out.Contents?.length ?? 0) > 0) {
      throw new RepoError(
        'INVALID_ARGUMENT',
        `cannot create a repository at ${this.location}: ${this.prefix === '' ? 'the bucket' : 'the prefix'} is not empty`,
        { path: this.location },
      );
    }
  }

  async create(): Promise<void> {
    if (this.createBucketIfMissing && !(await this.bucketExists())) {
      const input: CreateBucketCommandInput = { Bucket: this.bucket };
      // A repository with a lock policy needs a bucket with Object Lock, which can only be chosen at creation.
      if (this.objectLock.writePolicy !== undefined) input.ObjectLockEnabledForBucket = true;
      if (this.endpoint === undefined) {
        const region = await this.client.config.region();
        if (region !== 'us-east-1') input.CreateBucketConfiguration = { LocationConstraint: region as never };
      }
      try {
        await this.call(this.bucket, 'create bucket', undefined, () =>
          this.client.send(new CreateBucketCommand(input)),
        );
      } catch (err) {
        // Created meanwhile by us (a retried request, a concurrent init): fine.
        if (!(err instanceof RepoError && err.context.s3code === 'BucketAlreadyOwnedByYou')) {
          if (err instanceof RepoError && err.context.s3code === 'BucketAlreadyExists') {
            throw new BackendError(`cannot create bucket ${this.bucket}: the name is taken by another account`, {
              path: this.location,
            });
          }
          throw err;
        }
      }
    }
    if (await this.exists(CONFIG)) {
      throw new RepoError('REPO_EXISTS', `a repository already exists at ${this.location}`, { path: this.location });
    }
  }

  async save(h: Handle, data: SaveData, opts: SaveOptions = {}): Promise<void> {
    const rel = handleToPath(h);
    const signal = opts.signal;
    throwIfAborted(signal, rel);
    // One buffer (a view for a single part, else one copy): the SDK only reads it, and with a known
    // length and a Buffer body it sends a plain, fully signed payload. The caller keeps ownership.
    const body = concatSaveData(data);
    const params: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.key(rel),
      Body: body,
      ContentLength: body.length,
      ContentType: 'application/octet-stream',
    };
    if (h.type === 'data' && this.storageClass !== undefined) params.StorageClass = this.storageClass as never;
    if (this.sse !== undefined) params.ServerSideEncryption = this.sse as never;
    if (this.sseKmsKeyId !== undefined) params.SSEKMSKeyId = this.sseKmsKeyId;
    this.objectLock.lockPut(h.type, params);
    if (body.length > this.multipartThreshold) {
      await this.call(rel, 'save', signal, () => this.multipartUpload(rel, params, signal));
      await this.objectLock.lockAfterMultipart(h);
      return;
    }
    const md5 = contentMd5(body);
    if (md5 !== undefined) params.ContentMD5 = md5;
    await this.call(rel, 'save', signal, () => this.client.send(new PutObjectCommand(params), { abortSignal: signal }));
  }

  private async multipartUpload(
    rel: string,
    params: PutObjectCommandInput,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { ContentLength: _len, ...rest } = params;
      const upload = new Upload({
        client: this.client,
        params: rest,
        partSize: this.partSize,
        queueSize: 1, // one connection: the upload holds one slot of the connection limit
        leavePartsOnError: false,
        abortController: ac,
      });
      await upload.done();
    } catch (err) {
      throwIfAborted(signal, rel);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async get(rel: string, range: string | undefined, signal: AbortSignal | undefined): Promise<GetResult> {
    return this.call(rel, 'load', signal, async (): Promise<GetResult> => {
      let out;
      try {
        out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(rel), Range: range }), {
          abortSignal: signal,
        });
      } catch (err) {
        if (range !== undefined && (statusOf(err) === 416 || codeOf(err) === 'InvalidRange')) {
          return { kind: 'unsatisfiable' };
        }
        throw err;
      }
      const data = await readBody(out.Body, signal, rel);
      return {
        kind: 'body',
        data,
        status: out.$metadata.httpStatusCode,
        contentRange: out.ContentRange,
        contentLength: out.ContentLength,
      };
    });
  }

  async load(h: Handle, opts: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const rel = handleToPath(h);
    const { offset, length, signal } = opts;
    throwIfAborted(signal, rel);
    validateRangeArgs(offset, length, rel);
    const start = offset ?? 0;

    if (length === 0) {
      // No GET can express an empty range; the size decides between "empty" and "beyond the end".
      const size = await this.head(rel, 'load');
      resolveRange(size, start, 0, rel);
      return Buffer.alloc(0);
    }

    if (start === 0 && length === undefined) {
      const r = await this.get(rel, undefined, signal);
      if (r.kind !== 'body') throw new BackendError(`cannot load ${rel}: unexpected response`, { file: rel });
      if (r.contentLength !== undefined && r.data.length !== r.contentLength) {
        throw truncated(rel, r.data.length, r.contentLength, 0);
      }
      return r.data;
    }

    const r = await this.get(rel, rangeHeader(start, length), signal);
    if (r.kind === 'unsatisfiable') {
      // 416: the range starts at or beyond the end. Only "offset == size, no length" is valid (empty).
      const size = await this.head(rel, 'load');
      const [s, e] = resolveRange(size, start, length, rel);
      if (s === e && s === size) return Buffer.alloc(0);
      throw new TransientBackendError(`cannot load ${rel}: the object changed while it was read`, { file: rel });
    }
    return bytesOfRangeResponse(rel, r, start, length);
  }

  async stat(h: Handle): Promise<FileInfo> {
    const rel = handleToPath(h);
    return { name: h.name, size: await this.head(rel, 'stat') };
  }

  async exists(h: Handle): Promise<boolean> {
    return existsByStat(() => this.head(handleToPath(h), 'stat'));
  }

  async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    const signal = opts.signal;
    throwIfAborted(signal, type);
    if (type === 'config') {
      try {
        yield { name: 'config', size: await this.head('config', 'list') };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    const listPrefix = this.key(`${type}/`);
    let token: string | undefined;
    do {
      // One page per request; no connection slot is held while the caller consumes the page.
      const page: ListObjectsV2CommandOutput = await this.call(type, 'list', signal, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: listPrefix,
            MaxKeys: this.listPageSize,
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        ),
      );
      for (const obj of page.Contents ?? []) {
        if (obj.Key === undefined || !obj.Key.startsWith(listPrefix)) continue;
        const name = nameFromKey(type, obj.Key.slice(listPrefix.length));
        if (name !== undefined) yield { name, size: obj.Size ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      throwIfAborted(signal, type);
    } while (token !== undefined);
  }

  async remove(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    // S3 deletes are idempotent; the contract wants NOT_FOUND for a missing file. The same HEAD shows a lock.
    this.objectLock.refuseLockedRemoval(rel, await this.headObject(rel, 'remove'));
    await this.call(
      rel,
      'remove',
      undefined,
      () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(rel) })),
      { mayHaveSucceeded: true },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }
}

/** The handle name for a key below `TYPE/`, or undefined for anything that is not a valid layout entry. */
function nameFromKey(type: FileType, rest: string): string | undefined {
  if (type === 'data') {
    const m = DATA_KEY_RE.exec(rest);
    return m !== null && m[2].startsWith(m[1]) ? m[2] : undefined;
  }
  return isValidName(type, rest) ? rest : undefined;
}
