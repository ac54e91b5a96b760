// The UI's access rules without a browser: listen addresses, loopback detection, token and password checks,
// and what the page embeds (a report's data can never close its script element).
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Access, isLoopback, parseListen, sameSecret } from '../../src/ui/access.js';
import { snapshotPath } from '../../src/ui/browse.js';
import { contentType } from '../../src/ui/content-type.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const url = (q = '') => new URL(`http://x/${q}`);

describe('ui access', () => {
  it('parses --listen and tells loopback from the rest', () => {
    expect(parseListen('8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9')).toEqual({ host: '127.0.0.1', port: 9 });
    expect(() => parseListen('host')).toThrow(/HOST:PORT/);
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', 'localhost']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org', '128.0.0.1'])
      expect(isLoopback(h)).toBe(false);
  });

  it('takes the token from the URL (setting an HttpOnly SameSite=Strict cookie) or the cookie, nothing else', () => {
    const a = new Access('tok');
    expect(a.check(req({}), url('?token=tok'))).toEqual({
      ok: true,
      setCookie: 'repo_ui=tok; HttpOnly; SameSite=Strict; Path=/',
    });
    expect(a.check(req({ cookie: 'a=b; repo_ui=tok' }), url())).toEqual({ ok: true });
    expect(a.check(req({}), url())).toMatchObject({ ok: false, status: 401 });
    expect(a.check(req({ cookie: 'repo_ui=to' }), url('?token=tokk'))).toMatchObject({ ok: false });
    expect(a.check(req({ authorization: 'Bearer tok' }), url())).toMatchObject({ ok: false });
  });

  it('asks for the password first when one is set, as HTTP Basic with any user name', () => {
    const a = new Access('tok', 'secret');
    const basic = (s: string) => 'Basic ' + Buffer.from(s).toString('base64');
    expect(a.check(req({ cookie: 'repo_ui=tok' }), url())).toMatchObject({ ok: false, challenge: true });
    expect(a.check(req({ cookie: 'repo_ui=tok', authorization: basic('me:wrong') }), url())).toMatchObject({
      ok: false,
    });
    expect(a.check(req({ cookie: 'repo_ui=tok', authorization: basic('me:secret') }), url())).toEqual({ ok: true });
    expect(a.check(req({ authorization: basic('x:secret') }), url('?token=tok'))).toMatchObject({
      ok: true,
      setCookie: expect.stringContaining('; Secure'),
    });
    expect(sameSecret('a', 'a')).toBe(true);
    expect(sameSecret('a', 'ab')).toBe(false);
  });

  it('refuses snapshot paths that could leave the snapshot, and never serves HTML as HTML', () => {
    expect(snapshotPath('/a//b/./c/')).toBe('/a/b/c');
    expect(snapshotPath(null)).toBe('/');
    for (const p of ['../x', '/a/../b', '/a/..', 'a\\..\\b', '/a\0b'])
      expect(() => snapshotPath(p)).toThrow(/not a path inside/);
    expect(contentType('page.html')).toBe('text/plain; charset=utf-8');
    expect(contentType('x.PNG')).toBe('image/png');
    expect(contentType('binary')).toBe('application/octet-stream');
  });
});
