// Who may use the UI: the random access token of the printed URL (traded for an HttpOnly, SameSite=Strict
// cookie on first load) and, when it listens beyond loopback, an HTTP Basic password over TLS.
// Must never log or echo the token or the password, and never compare them in time that depends on their bytes.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { RepoError } from '../core/errors.js';

export const COOKIE = 'repo_ui';

/** A fresh random token: 32 bytes, URL-safe base64. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Equal, in time independent of where they differ (both are hashed first, so lengths do not leak either). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Whether a listen host is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1';
}

/** HOST:PORT, [IPv6]:PORT or PORT alone (loopback). Port 0 picks a free one. */
export function parseListen(s: string): { host: string; port: number } {
  if (/^\d+$/.test(s)) return { host: '127.0.0.1', port: Number(s) };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (m === null) throw new RepoError('INVALID_ARGUMENT', '--listen must be HOST:PORT');
  const port = Number(m[3]);
  if (port > 65535) throw new RepoError('INVALID_ARGUMENT', '--listen has an invalid port');
  return { host: m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]), port };
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function basicPassword(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined || !/^basic /i.test(h)) return undefined;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

export type Verdict =
  /** Allowed; `setCookie` when the token came in the URL (the page then reloads without it). */
  { ok: true; setCookie?: string } | { ok: false; status: 401; reason: string; challenge: boolean };

export class Access {
  constructor(
    private readonly token: string,
    /** Required as HTTP Basic password (any user name) when set: the UI listens beyond loopback. */
    private readonly password?: string,
  ) {}

  check(req: IncomingMessage, url: URL): Verdict {
    if (this.password !== undefined) {
      const pw = basicPassword(req);
      if (pw === undefined || !sameSecret(pw, this.password))
        return { ok: false, status: 401, reason: 'password required', challenge: true };
    }
    const fromUrl = url.searchParams.get('token');
    if (fromUrl !== null && sameSecret(fromUrl, this.token))
      return {
        ok: true,
        setCookie: `${COOKIE}=${this.token}; HttpOnly; SameSite=Strict; Path=/${this.password !== undefined ? '; Secure' : ''}`,
      };
    const fromCookie = cookieValue(req, COOKIE);
    if (fromCookie !== undefined && sameSecret(fromCookie, this.token)) return { ok: true };
    return {
      ok: false,
      status: 401,
      reason: 'open the URL with the access token that `repo ui` printed',
      challenge: false,
    };
  }
}
