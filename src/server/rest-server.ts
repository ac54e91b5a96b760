// `repo serve`: restic's REST protocol v2 over node:http(s), in front of any backend the project opens.
// Each request is authenticated (HTTP Basic, scrypt hashes), checked against the user's role before anything
// is touched, answered, and logged as one line (user, role, operation, object, result).
// Must never write outside the mounted repositories, never log a password, never leave a partial file.

import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Backend, type FileType, type Handle, FILE_TYPES, isNotFound, isValidName } from '../backend/backend.js';
import { createBackend, openBackend } from '../backend/open.js';
import { RepoError, isRepoError } from '../core/errors.js';
import { blake3 } from '../crypto/blake3.js';
import type { RequestRecord } from './audit-feed.js';
import type { LockOwners } from './lock-owners.js';
import { type Operation, effectiveRole, refusal } from './access.js';
import type { Authenticator, Role } from './credentials.js';

const API_V1 = 'application/vnd.x.restic.rest.v1';
const API_V2 = 'application/vnd.x.restic.rest.v2';
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export interface ServeOptions {
  /** URL path prefix (leading and trailing '/') → backend location; a prefix ending in `*` serves sub-paths as repositories. */
  mounts: ReadonlyArray<{ prefix: string; location: string; subpaths: boolean }>;
  auth: Authenticator;
  appendOnly: boolean;
  maxRequestBytes: number;
  timeoutMs: number;
  tls?: { cert: string; key: string };
  log: (line: string) => void;
  /** Like rest-server --private-repos: a user reaches only repositories under /USER/ (sub-paths on). */
  privateRepos?: boolean;
  /** Who created which lock: a backup-role user may delete only its own (survives restarts). */
  lockOwners?: LockOwners;
  /** Told about every request that named a repository (the audit feed). */
  onRequest?: (location: string, backend: () => Promise<Backend>, rec: RequestRecord) => void;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What a request names: the repository location, and the file or listing in it. */
interface Target {
  location: string;
  repoPath: string;
  /** The repository's path segments below the mount prefix. */
  repoSegs: string[];
  type?: FileType;
  name?: string;
}

export class RestServer {
  private readonly server: http.Server;
  private readonly backends = new Map<string, Promise<Backend>>();

  constructor(private readonly opts: ServeOptions) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    this.server =
      opts.tls !== undefined
        ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
        : http.createServer(handler);
    this.server.requestTimeout = opts.timeoutMs;
    this.server.headersTimeout = Math.min(opts.timeoutMs, 30_000);
    this.server.keepAliveTimeout = 5_000;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new RepoError('INVALID_ARGUMENT', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`)),
      );
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const b of this.backends.values()) await (await b.catch(() => undefined))?.close();
  }

  /** Maps a URL path to a repository and a file; HttpFailure(404/400) for anything outside the layout. */
  private target(urlPath: string): Target {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      throw new HttpFailure(400, 'invalid percent-encoding in the path');
    }
    const mount = [...this.opts.mounts]
      .sort((a, b) => b.prefix.length - a.prefix.length)
      .find((m) => decoded.startsWith(m.prefix) || `${decoded}/` === m.prefix);
    if (mount === undefined) throw new HttpFailure(404, 'no repository is served there');
    const rest = decoded.slice(Math.min(mount.prefix.length, decoded.length));
    const segs = rest.split('/');
    const trailing = segs.length > 0 && segs[segs.length - 1] === '';
    if (trailing) segs.pop();
    if (segs.some((s) => !SEGMENT.test(s) || s === '.' || s === '..'))
      throw new HttpFailure(400, 'the path has an invalid segment');
    // Find where the repository path ends: at config, at a file type followed by at most a name.
    let i = segs.length;
    let type: FileType | undefined;
    let name: string | undefined;
    const last = segs[segs.length - 1];
    const prev = segs[segs.length - 2];
    if (last === 'config' && !trailing) [i, type, name] = [segs.length - 1, 'config', 'config'];
    else if (trailing && isFileType(last) && last !== 'config') [i, type] = [segs.length - 1, last];
    else if (!trailing && isFileType(prev) && prev !== 'config') [i, type, name] = [segs.length - 2, prev, last];
    const repoSegs = segs.slice(0, i);
    if (repoSegs.length > 0 && !mount.subpaths) throw new HttpFailure(404, 'no repository is served there');
    if (type !== undefined && name !== undefined && !isValidName(type, name))
      throw new HttpFailure(404, 'not a valid file name');
    const location =
      repoSegs.length === 0 ? mount.location : `${mount.location.replace(/\/+$/, '')}/${repoSegs.join('/')}`;
    return { location, repoPath: `${mount.prefix}${repoSegs.map((s) => `${s}/`).join('')}`, repoSegs, type, name };
  }

  private backend(location: string): Promise<Backend> {
    let b = this.backends.get(location);
    if (b === undefined) {
      b = openBackend(location, { retry: { attempts: 1 } });
      this.backends.set(location, b);
      b.catch(() => this.backends.delete(location));
    }
    return b;
  }

  private async authenticate(req: http.IncomingMessage): Promise<{ user: string; role: Role } | undefined> {
    const h = req.headers.authorization;
    if (h === undefined || !h.startsWith('Basic ')) return undefined;
    const text = Buffer.from(h.slice(6), 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return undefined;
    const user = text.slice(0, colon);
    const role = await this.opts.auth.check(user, text.slice(colon + 1));
    return role === undefined ? undefined : { user, role };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let user = '-';
    let role = '-';
    let op: Operation | '-' = '-';
    let object = url.pathname;
    let reason = '';
    let location: string | undefined;
    try {
      const who = await this.authenticate(req);
      if (who === undefined) {
        res.setHeader('www-authenticate', 'Basic realm="repo serve"');
        throw new HttpFailure(401, 'wrong user name or password');
      }
      user = who.user;
      const r = effectiveRole(who.role, this.opts.appendOnly);
      role = r;
      const t = this.target(url.pathname);
      location = t.location;
      if (this.opts.privateRepos === true && t.repoSegs[0] !== user)
        throw new HttpFailure(403, `with private repositories, user ${user} may use only /${user}/…`);
      object = t.type === undefined ? t.repoPath : `${t.repoPath}${t.type}/${t.name ?? ''}`;
      op = operationOf(req.method ?? '', t, url);
      await this.serve(req, res, t, op, r, user);
    } catch (err) {
      const status = err instanceof HttpFailure ? err.status : isNotFound(err) ? 404 : 500;
      reason = err instanceof HttpFailure ? err.message : isRepoError(err) ? err.message : 'internal error';
      if (status === 500) reason = reason.split('\n')[0].slice(0, 300);
      if (!res.headersSent) {
        res.writeHead(status, {
          'content-type': 'text/plain; charset=utf-8',
          connection: status === 413 ? 'close' : 'keep-alive',
        });
        res.end(`${reason}\n`);
      } else res.destroy();
      req.resume();
    } finally {
      const line = `${new Date().toISOString()} user=${user} role=${role} op=${op} method=${req.method} object=${object} status=${res.statusCode}${reason === '' ? '' : ` reason=${JSON.stringify(reason)}`}`;
      this.opts.log(line);
      if (location !== undefined && this.opts.onRequest !== undefined) {
        const loc = location;
        this.opts.onRequest(loc, () => this.backend(loc), {
          time: new Date().toISOString(),
          user,
          role,
          op,
          method: req.method ?? '',
          object,
          status: res.statusCode,
          ...(reason === '' ? {} : { reason }),
        });
      }
    }
  }

  private async serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    t: Target,
    op: Operation,
    role: Role,
    user: string,
  ): Promise<void> {
    const h: Handle | undefined =
      t.type !== undefined && t.name !== undefined ? { type: t.type, name: t.name } : undefined;
    if (op === 'create-repository') {
      const why = refusal(role, op, undefined, false);
      if (why !== undefined) throw new HttpFailure(403, why);
      if (!this.backends.has(t.location)) {
        const created = createBackend(t.location, { retry: { attempts: 1 } });
        const b = await created.catch((err: unknown) => {
          if (isRepoError(err) && err.code === 'REPO_EXISTS') return undefined;
          throw err;
        });
        if (b !== undefined) this.backends.set(t.location, Promise.resolve(b));
      }
      res.writeHead(200).end();
      return;
    }
    const b = await this.backend(t.location).catch((err: unknown) => {
      if (isRepoError(err) && (err.code === 'REPO_NOT_FOUND' || err.code === 'NOT_A_REPOSITORY'))
        throw new HttpFailure(404, 'no repository there');
      throw err;
    });
    if (op === 'list') {
      const entries: Array<{ name: string; size: number }> = [];
      for await (const e of b.list(t.type!)) entries.push(e);
      const v2 = (req.headers.accept ?? '').includes(API_V2);
      const body = JSON.stringify(v2 ? entries : entries.map((e) => e.name));
      res.writeHead(200, { 'content-type': v2 ? API_V2 : API_V1, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (h === undefined) throw new HttpFailure(404, 'not a repository file');
    if (op === 'read') return this.read(req, res, b, h);
    if (op === 'delete') {
      const why = refusal(role, op, h.type, true);
      if (why !== undefined) throw new HttpFailure(403, why);
      const owners = this.opts.lockOwners;
      if (owners !== undefined && h.type === 'locks' && role !== 'admin') {
        const owner = owners.owner(t.location, h.name);
        if (owner !== user)
          throw new HttpFailure(
            403,
            `role backup may delete only lock files it created itself; ${owner === undefined ? 'nobody known to this server' : `user ${owner}`} created this one`,
          );
      }
      await b.remove(h).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      if (h.type === 'locks') owners?.removed(t.location, h.name);
      res.writeHead(200).end();
      return;
    }
    // write: check the role before reading the body, again with the file's presence once it is known.
    const early = refusal(role, op, h.type, false);
    if (early !== undefined) throw new HttpFailure(403, early);
    const body = await readBody(req, this.opts.maxRequestBytes);
    // Every file but config is named by the hash of its bytes (BLAKE3, spec §2; SHA-256 in restic's
    // repositories): anything else is not a repository file, and letting it in would let a backup
    // credential plant junk or a renamed copy.
    if (role !== 'admin' && h.type !== 'config' && !namedByContent(h.name, body))
      throw new HttpFailure(403, `role ${role} may store only files named by the hash of their content`);
    if (role !== 'admin' && (await b.exists(h))) {
      // Identical bytes change nothing (a retried upload); anything else would overwrite.
      const same = (await b.load(h)).equals(body);
      if (!same) throw new HttpFailure(403, refusal(role, op, h.type, true) ?? 'refused');
    } else {
      await b.save(h, body);
      if (h.type === 'locks') this.opts.lockOwners?.created(t.location, h.name, user);
    }
    res.writeHead(200).end();
  }

  private async read(req: http.IncomingMessage, res: http.ServerResponse, b: Backend, h: Handle): Promise<void> {
    const { size } = await b.stat(h);
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' }).end();
      return;
    }
    const range = req.headers.range;
    if (range === undefined) {
      const data = await b.load(h);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data);
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
    if (m === null) throw new HttpFailure(400, 'unsupported Range header');
    const start = Number(m[1]);
    const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start >= size || end < start) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    const data = await b.load(h, { offset: start, length: end - start + 1 });
    res
      .writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': data.length,
        'content-range': `bytes ${start}-${end}/${size}`,
      })
      .end(data);
  }
}

function namedByContent(name: string, body: Buffer): boolean {
  return blake3(body).toString('hex') === name || createHash('sha256').update(body).digest('hex') === name;
}

function isFileType(s: string | undefined): s is FileType {
  return s !== undefined && (FILE_TYPES as readonly string[]).includes(s);
}

function operationOf(method: string, t: Target, url: URL): Operation {
  if (t.type === undefined) {
    if (method === 'POST' && url.searchParams.get('create') === 'true') return 'create-repository';
    throw new HttpFailure(404, 'not a repository file');
  }
  if (t.name === undefined) {
    if (method === 'GET' || method === 'HEAD') return 'list';
    throw new HttpFailure(405, `${method} is not allowed on a listing`);
  }
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'POST') return 'write';
  if (method === 'DELETE') return 'delete';
  throw new HttpFailure(405, `${method} is not allowed`);
}

/** The whole request body, or HttpFailure(413) beyond `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    return Promise.reject(new HttpFailure(413, `the request body exceeds ${limit} bytes`));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        req.pause();
        reject(new HttpFailure(413, `the request body exceeds ${limit} bytes`));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
    req.on('aborted', () => reject(new HttpFailure(400, 'the client went away mid-upload')));
  });
}
