// The two ways the REST backend talks HTTP: HTTP/1.1 (or HTTPS) over TCP to a server such as restic's
// rest-server, and HTTP/2 without TLS over one byte stream (the stdin/stdout pipe of `rclone serve restic
// --stdio`, which speaks HTTP/2 there, as restic's rclone backend expects). Both buffer whole bodies: files
// are at most a pack. Must never put credentials into an error message (Authorization goes in a header only).

import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE';
  /** Absolute path with query, e.g. `/repo/data/ab…` or `/repo/?create=true`. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function collectBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.on('aborted', () => reject(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
  });
}

export interface Http1Options {
  /** `http:` or `https:` origin, e.g. `https://host:8000`. */
  origin: string;
  /** Most sockets open at once. */
  connections: number;
  /** Extra CA certificates (PEM) for https. */
  ca?: string[];
  /** Client certificate with its private key (PEM, both in one file as restic's --tls-client-cert takes). */
  clientCertAndKey?: string;
  /** A socket silent for this long fails the request (a transient error); ms. */
  idleTimeoutMs: number;
}

/** HTTP/1.1 with keep-alive over TCP or TLS. */
export class Http1Transport implements HttpTransport {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(private readonly opts: Http1Options) {
    this.url = new URL(opts.origin);
    const common = { keepAlive: true, maxSockets: opts.connections };
    if (this.url.protocol === 'https:') {
      this.agent = new https.Agent({
        ...common,
        // --cacert adds to the system's roots, as restic's does.
        ...(opts.ca === undefined ? {} : { ca: [...tls.rootCertificates, ...opts.ca] }),
        ...(opts.clientCertAndKey === undefined ? {} : { cert: opts.clientCertAndKey, key: opts.clientCertAndKey }),
      });
    } else {
      this.agent = new http.Agent(common);
    }
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    const mod = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = String(req.body.length);
      const r = mod.request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          method: req.method,
          path: req.path,
          headers,
          agent: this.agent,
          signal: req.signal,
        },
        (res) => {
          collectBody(res).then((body) => {
            const h: Record<string, string | undefined> = {};
            for (const [k, v] of Object.entries(res.headers)) h[k] = header(v);
            resolve({ status: res.statusCode ?? 0, headers: h, body });
          }, reject);
        },
      );
      r.setTimeout(this.opts.idleTimeoutMs, () =>
        r.destroy(Object.assign(new Error('the server did not answer in time'), { code: 'ETIMEDOUT' })),
      );
      r.on('error', reject);
      r.end(req.body);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

const WINDOW_BYTES = 32 * 1024 * 1024;
/** Node's default is 10 MB, less than one default pack. */
const SESSION_MEMORY_MB = 1024;

/** HTTP/2 with prior knowledge (no TLS, no upgrade) over one duplex stream; requests are multiplexed on it. */
export class Http2StreamTransport implements HttpTransport {
  private readonly session: http2.ClientHttp2Session;
  private failure: Error | undefined;

  constructor(
    stream: Duplex,
    private readonly idleTimeoutMs: number,
  ) {
    // Large flow-control windows: with HTTP/2's default 64 KiB a pack would arrive in hundreds of round trips.
    this.session = http2.connect('http://localhost', {
      createConnection: () => stream,
      settings: { initialWindowSize: WINDOW_BYTES },
      // Bodies are whole packs, several at once; past this budget nghttp2 refuses streams (ENHANCE_YOUR_CALM).
      maxSessionMemory: SESSION_MEMORY_MB,
    });
    this.session.once('connect', () => this.session.setLocalWindowSize(WINDOW_BYTES));
    this.session.on('error', (err) => {
      this.failure = err;
    });
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.session.closed || this.session.destroyed) {
      return Promise.reject(Object.assign(new Error('the connection is closed'), { code: 'ENOTCONN' }));
    }
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = { ':method': req.method, ':path': req.path, ...req.headers };
      if (req.body !== undefined) headers['content-length'] = req.body.length;
      const s = this.session.request(headers, { endStream: req.body === undefined, signal: req.signal });
      let status = 0;
      const h: Record<string, string | undefined> = {};
      s.on('response', (rh) => {
        status = Number(rh[':status'] ?? 0);
        for (const [k, v] of Object.entries(rh))
          if (!k.startsWith(':')) h[k] = header(v as string | string[] | undefined);
      });
      s.setTimeout(this.idleTimeoutMs, () => s.close(http2.constants.NGHTTP2_CANCEL));
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        if (status === 0)
          reject(Object.assign(new Error('the stream ended without an answer'), { code: 'ECONNRESET' }));
        else resolve({ status, headers: h, body: Buffer.concat(chunks) });
      });
      s.on('error', reject);
      s.on('close', () => {
        if (status === 0)
          reject(
            this.failure ?? Object.assign(new Error('the stream was closed without an answer'), { code: 'ECONNRESET' }),
          );
      });
      if (req.body !== undefined) s.end(req.body);
    });
  }

  async close(): Promise<void> {
    if (this.session.closed) return;
    await new Promise<void>((resolve) => this.session.close(() => resolve()));
  }

  /**
   * The peer is gone (its process exited): fail the requests in progress now instead of after the idle
   * timeout (a closed pipe does not always reach the HTTP/2 session), and every later one.
   */
  destroy(reason: Error): void {
    this.failure ??= reason;
    if (!this.session.destroyed) this.session.destroy(reason);
  }
}
