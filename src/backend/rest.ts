// A repository behind restic's REST protocol, version 2 (rest-server, `rclone serve restic`): files are
// `<base>/config` and `<base>/<type>/<name>` (the server keeps data packs in `data/<name[0:2]>/`), created by
// POST, read by GET with Range, sized by HEAD, deleted by DELETE, listed as JSON by GET `<base>/<type>/`.
// Must never return partial data, never show credentials, and never send a request after close().

import { Semaphore } from '../core/concurrency.js';
import { BackendError, NotFoundError, RepoError } from '../core/errors.js';
import {
  existsByStat,
  type Backend,
  type FileInfo,
  type FileType,
  FILE_TYPES,
  type Handle,
  type SaveData,
  type SaveOptions,
  TransientBackendError,
  concatSaveData,
  handleToPath,
  isNotFound,
  isTransientNetworkError,
  isValidName,
  resolveRange,
  throwIfAborted,
  validateFileType,
  validateRangeArgs,
} from './backend.js';
import { bytesOfRangeResponse, rangeHeader } from './http-range.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './http-transport.js';

const CONFIG: Handle = { type: 'config', name: 'config' };
const API_V2 = 'application/vnd.x.restic.rest.v2';
/** HTTP statuses that mean "try again later". */
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface RestBackendConfig {
  /** Display form, e.g. `rest:https://host:8000/repo/` (no credentials). */
  location: string;
  /** Path prefix on the server, with leading and trailing '/', e.g. `/repo/`. */
  basePath: string;
  transport: HttpTransport;
  /** `Basic …` header value, if the location or environment gave credentials. */
  authorization?: string;
  /** Most requests in flight at once. */
  connections: number;
  /** Called once by close(), after the transport is closed (e.g. to stop an rclone child). */
  onClose?: () => Promise<void>;
  /** Adds detail to an error about the transport, e.g. rclone's last words on stderr. */
  explain?: (err: unknown) => string | undefined;
  /** Whether the transport is gone for good (rclone exited): its failures are then not worth retrying. */
  isDead?: () => boolean;
}

function statusText(status: number): string {
  switch (status) {
    case 401:
      return 'authentication refused (HTTP 401): check the user name and password';
    case 403:
      return 'forbidden (HTTP 403; an append-only server refuses deletions)';
    default:
      return `HTTP ${status}`;
  }
}

/** The detail of a failed exchange: the status, and the first line of a short text body (never the whole reply). */
function replyDetail(res: HttpResponse): string {
  const text = res.body.subarray(0, 200).toString('utf8').split('\n')[0].trim();
  const printable =
    /^[\x20-\x7e]*$/.test(text) && text !== '' && !/^(Not Found|Forbidden|Unauthorized)$/i.test(text)
      ? `: ${text}`
      : '';
  // A server that says why it refuses (repo serve's roles) is quoted instead of guessed at.
  if (res.status === 403 && printable !== '') return `refused by the server (HTTP 403)${printable}`;
  return `${statusText(res.status)}${printable}`;
}

export class RestBackend implements Backend {
  readonly location: string;
  /** Requests sent so far, by method and file type (e.g. `GET data`, `POST index`); every attempt counts. */
  readonly requests: Record<string, number> = {};
  private readonly sem: Semaphore;
  private closed = false;

  constructor(private readonly cfg: RestBackendConfig) {
    this.location = cfg.location;
    this.sem = new Semaphore(cfg.connections);
  }

  private urlPath(rel: string): string {
    // data/<xx>/<id> is the local layout; the protocol names a pack data/<id>.
    const [type, ...rest] = rel.split('/');
    return type === 'data' && rest.length === 2 ? `${this.cfg.basePath}data/${rest[1]}` : `${this.cfg.basePath}${rel}`;
  }

  /** Sends one request under the connection limit; maps transport failures (never statuses) to RepoErrors. */
  private async send(action: string, file: string, req: HttpRequest, mayHaveSucceeded = false): Promise<HttpResponse> {
    throwIfAborted(req.signal, file);
    if (this.closed)
      throw new BackendError(`${this.location}: cannot ${action} ${file}: the backend is closed`, { file });
    const headers: Record<string, string> = { ...req.headers };
    if (this.cfg.authorization !== undefined) headers.authorization = this.cfg.authorization;
    await this.sem.acquire();
    try {
      throwIfAborted(req.signal, file);
      const kind = `${req.method} ${file.split('/')[0] || 'repository'}`;
      this.requests[kind] = (this.requests[kind] ?? 0) + 1;
      return await this.cfg.transport.request({ ...req, headers });
    } catch (err) {
      throw this.transportError(err, action, file, req.signal, mayHaveSucceeded);
    } finally {
      this.sem.release();
    }
  }

  private transportError(
    err: unknown,
    action: string,
    file: string,
    signal: AbortSignal | undefined,
    mayHaveSucceeded: boolean,
  ): RepoError {
    if (err instanceof RepoError) return err;
    if (signal?.aborted || (err as { name?: unknown } | null)?.name === 'AbortError') {
      return new RepoError('INTERRUPTED', 'operation aborted', { file }, { cause: err });
    }
    const extra = this.cfg.explain?.(err);
    const m = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    const msg = `${this.location}: cannot ${action} ${file}: ${m.length > 200 ? `${m.slice(0, 200)}…` : m}${extra === undefined ? '' : ` (${extra})`}`;
    const ctx = { file, ...(typeof code === 'string' ? { errno: code } : {}) };
    if (typeof code === 'string' && code.startsWith('HPE_')) {
      return new BackendError(`${this.location}: cannot ${action} ${file}: the server's answer is not HTTP`, ctx, {
        cause: err,
      });
    }
    if (isTransientNetworkError(err) && this.cfg.isDead?.() !== true)
      return new TransientBackendError(msg, ctx, { cause: err, mayHaveSucceeded });
    return new BackendError(msg, ctx, { cause: err });
  }

  /** An error for a response whose status is not the expected one. */
  private statusError(res: HttpResponse, action: string, file: string, mayHaveSucceeded = false): RepoError {
    if (res.status === 404) return new NotFoundError(`${file} not found`, { file });
    const msg = `${this.location}: cannot ${action} ${file}: ${replyDetail(res)}`;
    const ctx = { file, status: res.status };
    if (TRANSIENT_STATUS.has(res.status)) return new TransientBackendError(msg, ctx, { mayHaveSucceeded });
    return new BackendError(msg, ctx);
  }

  private async head(rel: string, action: string): Promise<number> {
    const res = await this.send(action, rel, { method: 'HEAD', path: this.urlPath(rel) });
    if (res.status !== 200) throw this.statusError(res, action, rel);
    const len = Number(res.headers['content-length']);
    if (!Number.isSafeInteger(len) || len < 0) {
      throw new BackendError(`${this.location}: cannot ${action} ${rel}: the server sent no valid Content-Length`, {
        file: rel,
      });
    }
    return len;
  }

  /** For opening: succeeds if the config exists; RepoError('REPO_NOT_FOUND') if the server has none there. */
  async checkRepository(): Promise<void> {
    if (await this.exists(CONFIG)) return;
    throw new RepoError('REPO_NOT_FOUND', `no repository at ${this.location}: the server has no config there`, {
      path: this.location,
    });
  }

  /** For init, after create(): RepoError('INVALID_ARGUMENT') if the server already holds any repository file there. */
  async checkEmpty(): Promise<void> {
    for (const type of FILE_TYPES) {
      if (type === 'config') continue;
      for await (const _ of this.list(type)) {
        throw new RepoError('INVALID_ARGUMENT', `cannot create a repository at ${this.location}: it is not empty`, {
          path: this.location,
        });
      }
    }
  }

  async create(): Promise<void> {
    const res = await this.send('create', 'repository', { method: 'POST', path: `${this.cfg.basePath}?create=true` });
    if (res.status !== 200) throw this.statusError(res, 'create', 'repository');
    if (await this.exists(CONFIG)) {
      throw new RepoError('REPO_EXISTS', `a repository already exists at ${this.location}`, { path: this.location });
    }
  }

  async save(h: Handle, data: SaveData, opts: SaveOptions = {}): Promise<void> {
    const rel = handleToPath(h);
    throwIfAborted(opts.signal, rel);
    const body = concatSaveData(data);
    const res = await this.send('save', rel, {
      method: 'POST',
      path: this.urlPath(rel),
      headers: { 'content-type': 'application/octet-stream' },
      body,
      signal: opts.signal,
    });
    if (res.status === 404 && h.type === 'audit') {
      // restic's rest-server knows only restic's file types (spec §15).
      throw new BackendError(
        `${this.location}: cannot save ${rel}: the server does not store audit/ files (restic's rest-server accepts only restic's file types)`,
        { file: rel, status: 404 },
      );
    }
    if (res.status !== 200) throw this.statusError(res, 'save', rel);
  }

  async load(h: Handle, opts: { offset?: number; length?: number; signal?: AbortSignal } = {}): Promise<Buffer> {
    const rel = handleToPath(h);
    const { offset, length, signal } = opts;
    throwIfAborted(signal, rel);
    validateRangeArgs(offset, length, rel);
    const start = offset ?? 0;
    if (length === 0) {
      resolveRange(await this.head(rel, 'load'), start, 0, rel);
      return Buffer.alloc(0);
    }
    const ranged = start !== 0 || length !== undefined;
    const res = await this.send('load', rel, {
      method: 'GET',
      path: this.urlPath(rel),
      headers: ranged ? { range: rangeHeader(start, length) } : {},
      signal,
    });
    if (res.status === 416 && ranged) {
      // The range starts at or beyond the end; only "offset == size, no length" is valid (empty).
      const size = await this.head(rel, 'load');
      const [s, e] = resolveRange(size, start, length, rel);
      if (s === e && s === size) return Buffer.alloc(0);
      throw new TransientBackendError(`${this.location}: cannot load ${rel}: the file changed while it was read`, {
        file: rel,
      });
    }
    if (res.status !== 200 && res.status !== 206) throw this.statusError(res, 'load', rel);
    const cl = res.headers['content-length'];
    const r = {
      data: res.body,
      status: res.status,
      contentRange: res.headers['content-range'],
      contentLength: cl === undefined ? undefined : Number(cl),
    };
    if (!ranged) {
      if (r.contentLength !== undefined && r.data.length !== r.contentLength) {
        throw new TransientBackendError(
          `${this.location}: cannot load ${rel}: response body has ${r.data.length} of ${r.contentLength} bytes`,
          { file: rel },
        );
      }
      return r.data;
    }
    return bytesOfRangeResponse(rel, r, start, length);
  }

  async stat(h: Handle): Promise<FileInfo> {
    return { name: h.name, size: await this.head(handleToPath(h), 'stat') };
  }

  async exists(h: Handle): Promise<boolean> {
    return existsByStat(() => this.head(handleToPath(h), 'stat'));
  }

  async *list(type: FileType, opts: { signal?: AbortSignal } = {}): AsyncIterable<FileInfo> {
    validateFileType(type);
    throwIfAborted(opts.signal, type);
    if (type === 'config') {
      try {
        yield { name: 'config', size: await this.head('config', 'list') };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return;
    }
    const res = await this.send('list', `${type}/`, {
      method: 'GET',
      path: `${this.cfg.basePath}${type}/`,
      headers: { accept: API_V2 },
      signal: opts.signal,
    });
    // A server that has no such directory (rest-server for audit/) stores no such files.
    if (res.status === 404) return;
    if (res.status !== 200) throw this.statusError(res, 'list', `${type}/`);
    for (const entry of await this.parseListing(res, type, opts.signal)) {
      if (isValidName(type, entry.name)) yield entry;
    }
  }

  /** The entries of a listing: v2 `[{name, size}]`, or v1 `["name", …]` (then each size costs a HEAD). */
  private async parseListing(res: HttpResponse, type: FileType, signal: AbortSignal | undefined): Promise<FileInfo[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new BackendError(`${this.location}: cannot list ${type}/: the server's answer is not JSON`, { file: type });
    }
    if (!Array.isArray(parsed))
      throw new BackendError(`${this.location}: cannot list ${type}/: the server's answer is not a list`, {
        file: type,
      });
    const out: FileInfo[] = [];
    for (const e of parsed as unknown[]) {
      if (typeof e === 'string') {
        throwIfAborted(signal, type);
        if (!isValidName(type, e)) continue;
        out.push({
          name: e,
          size: await this.head(type === 'data' ? `data/${e.slice(0, 2)}/${e}` : `${type}/${e}`, 'list'),
        });
      } else if (
        e !== null &&
        typeof e === 'object' &&
        typeof (e as FileInfo).name === 'string' &&
        Number.isSafeInteger((e as FileInfo).size)
      ) {
        out.push({ name: (e as FileInfo).name, size: (e as FileInfo).size });
      } else {
        throw new BackendError(
          `${this.location}: cannot list ${type}/: the server's answer has an entry that is not {name, size}`,
          { file: type },
        );
      }
    }
    return out;
  }

  async remove(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    // Servers make DELETE idempotent; the contract wants NOT_FOUND for a missing file.
    await this.head(rel, 'remove');
    const res = await this.send('remove', rel, { method: 'DELETE', path: this.urlPath(rel) }, true);
    if (res.status !== 200 && res.status !== 204) throw this.statusError(res, 'remove', rel, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.cfg.transport.close();
    } finally {
      await this.cfg.onClose?.();
    }
  }
}
