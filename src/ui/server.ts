// `repo ui`'s web server: the page, its assets and a small JSON API over one opened repository (timeline,
// directory listings, file and tar downloads, diff, plot data, and restore when allowed).
// Must never serve anything but snapshot contents and its own assets, never answer without the access token,
// and never let a backed-up file run script in the UI's origin (files are sent sandboxed, HTML as text).

import fs from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { errorMessage, isRepoError, RepoError } from '../core/errors.js';
import { writeArchive, writeFile } from '../dump/dump.js';
import { writeZip } from '../dump/zip.js';
import type { Repository } from '../repository/repository.js';
import { restoreSnapshot } from '../restorer/index.js';
import { Access } from './access.js';
import { asset, ASSETS, type AssetName } from './assets.js';
import { diffView, listDirectory, locate, timeline } from './browse.js';
import { contentType } from './content-type.js';
import { pageHtml } from './page.js';
import { SnapshotFiles } from './snapshot-files.js';
import { plotData, type PlotDataOptions } from './plot-data.js';

export interface UiServerOptions {
  repo: Repository;
  token: string;
  /** HTTP Basic password; required (with tls) beyond loopback. */
  password?: string;
  tls?: { cert: string; key: string };
  allowRestore: boolean;
  plots: Omit<PlotDataOptions, 'now' | 'since'>;
  /** One line per refused request or failure (never the token). */
  log: (line: string) => void;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'";
/** For snapshot files: a backed-up HTML or SVG file must not run script with the UI's cookie. */
const FILE_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'";

const MAX_BODY = 64 * 1024;

function httpStatus(err: unknown): number {
  if (!isRepoError(err)) return 500;
  if (err.code === 'NOT_FOUND') return 404;
  if (err.code === 'INVALID_ARGUMENT' || err.code === 'AMBIGUOUS') return 400;
  return 500;
}

function contentDisposition(kind: 'attachment' | 'inline', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export class UiServer {
  private readonly server: http.Server;
  private readonly access: Access;
  private readonly abort = new AbortController();
  private readonly snapshots: SnapshotFiles;

  constructor(private readonly opts: UiServerOptions) {
    this.snapshots = new SnapshotFiles(opts.repo);
    this.access = new Access(opts.token, opts.password);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    };
    this.server = opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : http.createServer(handler);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('closing'));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(
    res: ServerResponse,
    status: number,
    body: string,
    type: string,
    extra: Record<string, string> = {},
  ): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
    res.end(body);
  }

  private json(res: ServerResponse, value: unknown, status = 200): void {
    this.send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
  }

  private fail(res: ServerResponse, err: unknown): void {
    const status = httpStatus(err);
    if (status === 500) this.opts.log(`ui: ${errorMessage(err)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.json(res, { error: errorMessage(err) }, status);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    const verdict = this.access.check(req, url);
    if (!verdict.ok) {
      this.opts.log(`ui: refused ${req.method} ${url.pathname}: ${verdict.reason}`);
      this.send(
        res,
        401,
        `401 ${verdict.reason}\n`,
        'text/plain; charset=utf-8',
        verdict.challenge ? { 'www-authenticate': 'Basic realm="repo ui", charset="UTF-8"' } : {},
      );
      return;
    }
    if (verdict.setCookie !== undefined) {
      // The token leaves the address bar (and the history) at once; the cookie stands in for it.
      url.searchParams.delete('token');
      res.writeHead(303, { ...SECURITY_HEADERS, 'set-cookie': verdict.setCookie, location: url.pathname + url.search });
      res.end();
      return;
    }
    const route = url.pathname;
    if (req.method === 'POST' && route === '/api/restore') return this.restore(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.send(res, 405, 'method not allowed\n', 'text/plain; charset=utf-8', { allow: 'GET, HEAD' });
      return;
    }
    const q = url.searchParams;
    const repo = this.opts.repo;
    switch (route) {
      case '/':
        this.send(res, 200, pageHtml({ allowRestore: this.opts.allowRestore }), 'text/html; charset=utf-8', {
          'content-security-policy': PAGE_CSP,
        });
        return;
      case '/api/timeline':
        return this.json(res, await timeline(this.snapshots));
      case '/api/ls':
        return this.json(res, await listDirectory(repo, q.get('snapshot') ?? 'latest', q.get('path'), this.snapshots));
      case '/api/diff':
        return this.json(res, await diffView(repo, q.get('a') ?? '', q.get('b') ?? '', this.snapshots));
      case '/api/plots':
        return this.json(res, await plotData(repo, { ...this.opts.plots, snapshots: this.snapshots }));
      case '/api/file':
        return this.file(res, q.get('snapshot') ?? 'latest', q.get('path'), q.get('download') === '1');
      case '/api/archive':
        return this.archive(res, q.get('snapshot') ?? 'latest', q.get('path'), q.get('format') ?? 'tar');
    }
    if (route.startsWith('/assets/')) {
      const name = route.slice('/assets/'.length);
      if (Object.hasOwn(ASSETS, name)) {
        this.send(res, 200, asset(name as AssetName), ASSETS[name as AssetName].type);
        return;
      }
    }
    this.send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
  }

  private async file(res: ServerResponse, ref: string, rawPath: string | null, download: boolean): Promise<void> {
    const repo = this.opts.repo;
    const { path: p, resolved } = await locate(repo, ref, rawPath, this.snapshots);
    const node = resolved.node;
    if (node === undefined || node.type !== 'file')
      throw new RepoError('INVALID_ARGUMENT', `${p} is not a regular file`, { path: p });
    const name = p.split('/').pop() ?? 'file';
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': download ? 'application/octet-stream' : contentType(name),
      'content-disposition': contentDisposition(download ? 'attachment' : 'inline', name),
      'content-security-policy': FILE_CSP,
      ...(node.size !== undefined ? { 'content-length': String(node.size) } : {}),
    });
    await this.stream(res, (signal) => writeFile(repo, node, p, res, signal));
    res.end();
  }

  private async archive(res: ServerResponse, ref: string, rawPath: string | null, format: string): Promise<void> {
    if (format !== 'tar' && format !== 'zip')
      throw new RepoError(
        'INVALID_ARGUMENT',
        `unsupported archive format ${JSON.stringify(format.slice(0, 20))}: tar or zip`,
      );
    const repo = this.opts.repo;
    const { sn, path: p, resolved } = await locate(repo, ref, rawPath, this.snapshots);
    if (resolved.node !== undefined && resolved.treeId === undefined)
      throw new RepoError('INVALID_ARGUMENT', `${p} is not a directory: download it as a file`, { path: p });
    const base = p === '/' ? `snapshot-${sn.id.slice(0, 8)}` : (p.split('/').pop() ?? 'archive');
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': format === 'zip' ? 'application/zip' : 'application/x-tar',
      'content-disposition': contentDisposition('attachment', `${base}.${format}`),
    });
    const warn = (line: string) => this.opts.log(`ui: ${line}`);
    await this.stream(res, (signal) =>
      format === 'zip'
        ? writeZip(repo, sn, resolved, p, res, signal, warn)
        : writeArchive(repo, sn, resolved, p, res, signal, warn),
    );
    res.end();
  }

  /** Runs a writer into the response; a browser that goes away stops it (its next write fails). */
  private async stream(res: ServerResponse, write: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    const ac = new AbortController();
    const stop = () => ac.abort(new Error('client went away'));
    res.once('close', stop);
    this.abort.signal.addEventListener('abort', stop, { once: true });
    try {
      await write(ac.signal);
    } catch (err) {
      if (ac.signal.aborted) return;
      throw err;
    } finally {
      res.off('close', stop);
      this.abort.signal.removeEventListener('abort', stop);
    }
  }

  private async restore(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.opts.allowRestore) {
      this.json(res, { error: 'restore is off: start `repo ui` with --allow-restore' }, 403);
      return;
    }
    // A form on another site cannot send this header or this content type without a CORS preflight we never answer.
    if (req.headers['x-repo-ui'] !== '1' || !/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      this.json(res, { error: "restore needs the UI's own request" }, 403);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) throw new RepoError('INVALID_ARGUMENT', 'request too large');
      chunks.push(c as Buffer);
    }
    let body: { snapshot?: unknown; path?: unknown; target?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      throw new RepoError('INVALID_ARGUMENT', 'the request is not JSON');
    }
    const target = typeof body.target === 'string' ? body.target : '';
    if (!path.isAbsolute(target) || target.includes('\0'))
      throw new RepoError('INVALID_ARGUMENT', 'the target must be an absolute local directory path');
    const entries = await fs.readdir(target).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw new RepoError('INVALID_ARGUMENT', `cannot use ${target} as the target: ${err.code ?? errorMessage(err)}`);
    });
    if (entries.length > 0)
      throw new RepoError('INVALID_ARGUMENT', `${target} is not empty: restore into a new or empty directory`);
    const repo = this.opts.repo;
    const { sn, path: p } = await locate(
      repo,
      typeof body.snapshot === 'string' ? body.snapshot : '',
      typeof body.path === 'string' ? body.path : '/',
    );
    const warnings: string[] = [];
    const r = await restoreSnapshot(repo, sn, {
      target,
      subPath: p === '/' ? undefined : p,
      signal: this.abort.signal,
      onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
    });
    this.opts.log(`ui: restored ${p} of snapshot ${sn.id.slice(0, 8)} into ${target} (${r.files} files)`);
    this.json(res, { snapshot: sn.id, path: p, target, files: r.files, dirs: r.dirs, bytes: r.bytes, warnings });
  }
}
