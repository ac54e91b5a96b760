// SftpBackend against a real OpenSSH server (sshd on loopback, started by the test): the conformance suite
// through the full stack and raw, ~/.ssh/config aliases, known_hosts (plain and hashed; unknown,
// changed and revoked keys refused), refused authentication, wrong paths, a read-only server, an
// unreachable port, temporary-file cleanup and a dropped connection. Talks only to the sshd it starts.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Backend,
  type OpenOptions,
  createBackend,
  formatSftpLocation,
  openBackend,
  parseSftpLocation,
  resolveSftpTarget,
} from '../../src/backend/index.js';
import { SftpBackend } from '../../src/backend/sftp.js';
import { sha256Fingerprint } from '../../src/backend/sftp-hostkeys.js';
import { keygen, startSshd, type SshdServer } from '../helpers/sshd.mjs';
import { backendConformance, idOf, listNames, randomId, rejection } from '../backend/conformance.js';

let srv: SshdServer;
const opened: Backend[] = [];

beforeAll(async () => {
  srv = await startSshd();
});
afterAll(async () => {
  for (const b of opened) await b.close().catch(() => undefined);
  await srv?.stop();
});

/** Options that read ~/.ssh from the test server's fake HOME, with no agent and fast retries. */
function opts(extra: OpenOptions = {}): OpenOptions {
  return { env: { HOME: srv.home }, retry: { baseDelayMs: 5, attempts: 3 }, ...extra };
}

function repoPath(): string {
  return path.join(srv.data, `r-${randomId().slice(0, 12)}`);
}

async function created(location: string, extra: OpenOptions = {}): Promise<Backend> {
  const b = await createBackend(location, opts(extra));
  opened.push(b);
  return b;
}

backendConformance('SFTP (createBackend: SftpBackend → RetryBackend) on OpenSSH', async () => ({
  backend: await created(srv.url(repoPath())),
}));

backendConformance('SFTP (raw SftpBackend, ~/.ssh/config alias) on OpenSSH', async () => {
  const loc = parseSftpLocation(`testhost:${repoPath()}`);
  const b = new SftpBackend(resolveSftpTarget(loc, {}, { HOME: srv.home }), formatSftpLocation(loc));
  await b.createRepository();
  return { backend: b };
});

describe('known_hosts', () => {
  it('accepts a hashed entry (ssh-keygen -H)', async () => {
    const home = fs.mkdtempSync(path.join(srv.dir, 'hashed-'));
    fs.cpSync(path.join(srv.home, '.ssh'), path.join(home, '.ssh'), { recursive: true });
    const kh = path.join(home, '.ssh', 'known_hosts');
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    expect(fs.readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
    const b = await created(srv.url(repoPath()), { env: { HOME: home } });
    await b.save({ type: 'keys', name: idOf(Buffer.from('k')) }, Buffer.from('k'));
  });

  it('refuses an unknown host key, naming its SHA256 fingerprint', async () => {
    const home = fs.mkdtempSync(path.join(srv.dir, 'unknown-'));
    fs.cpSync(path.join(srv.home, '.ssh'), path.join(home, '.ssh'), { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'known_hosts'), '');
    const err = await rejection(createBackend(srv.url(repoPath()), opts({ env: { HOME: home } })));
    expect(err.code).toBe('BACKEND');
    expect(err.message).toContain('is not known');
    expect(err.message).toContain(srv.fingerprint);
    expect(err.message).toMatch(/^sftp \S+@127\.0\.0\.1:\d+: /);
  });

  it('refuses a changed host key, naming the offered fingerprint', async () => {
    const home = fs.mkdtempSync(path.join(srv.dir, 'changed-'));
    fs.cpSync(path.join(srv.home, '.ssh'), path.join(home, '.ssh'), { recursive: true });
    keygen(path.join(home, 'other'));
    const other = fs.readFileSync(path.join(home, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    fs.writeFileSync(path.join(home, '.ssh', 'known_hosts'), `# old key\n[127.0.0.1]:${srv.port} ${other}\n`);
    const err = await rejection(openBackend(srv.url(repoPath()), opts({ env: { HOME: home } })));
    expect(err.message).toContain('CHANGED');
    expect(err.message).toContain(srv.fingerprint);
    expect(err.message).toContain('known_hosts:2');
  });

  it('fingerprints like ssh-keygen', () => {
    const blob = Buffer.from(srv.hostKeyLine.split(' ')[1], 'base64');
    expect(sha256Fingerprint(blob)).toBe(srv.fingerprint);
  });
});

describe('bad input', () => {
  it('refused authentication: one line naming what was tried, no key material', async () => {
    const home = fs.mkdtempSync(path.join(srv.dir, 'auth-'));
    fs.cpSync(path.join(srv.home, '.ssh'), path.join(home, '.ssh'), { recursive: true });
    fs.rmSync(path.join(home, '.ssh', 'id_ed25519'));
    keygen(path.join(home, '.ssh', 'id_ed25519'));
    const err = await rejection(openBackend(srv.url(repoPath()), opts({ env: { HOME: home } })));
    expect(err.code).toBe('BACKEND');
    expect(err.message).toMatch(/^sftp \S+: authentication refused \(tried .*id_ed25519\)$/);
  });

  it('authenticates through ssh-agent (SSH_AUTH_SOCK) when no key file is there', async () => {
    const home = fs.mkdtempSync(path.join(srv.dir, 'agent-'));
    fs.cpSync(path.join(srv.home, '.ssh'), path.join(home, '.ssh'), { recursive: true });
    const key = path.join(home, 'agent-key');
    fs.renameSync(path.join(home, '.ssh', 'id_ed25519'), key);
    const sock = path.join(home, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
      execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      // Without the agent the key files are gone: refused.
      expect((await rejection(openBackend(srv.url(srv.data), opts({ env: { HOME: home } })))).message).toContain(
        'authentication refused',
      );
      const b = await created(srv.url(repoPath()), { env: { HOME: home, SSH_AUTH_SOCK: sock } });
      await b.save({ type: 'keys', name: idOf(Buffer.from('a')) }, Buffer.from('a'));
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('a key protected by a passphrase is skipped with a hint, never asked for', async () => {
    const home = fs.mkdtempSync(path.join(srv.dir, 'pass-'));
    fs.cpSync(path.join(srv.home, '.ssh'), path.join(home, '.ssh'), { recursive: true });
    execFileSync('ssh-keygen', ['-q', '-p', '-N', 'hunter2', '-f', path.join(home, '.ssh', 'id_ed25519')], {
      stdio: 'ignore',
    });
    const err = await rejection(openBackend(srv.url(repoPath()), opts({ env: { HOME: home } })));
    expect(err.message).toContain('protected by a passphrase: load it into ssh-agent');
    expect(err.message).not.toContain('hunter2');
  });

  it('wrong path: REPO_NOT_FOUND; a directory without config: NOT_A_REPOSITORY', async () => {
    expect((await rejection(openBackend(srv.url(path.join(srv.data, 'nope')), opts()))).code).toBe('REPO_NOT_FOUND');
    expect((await rejection(openBackend(srv.url(srv.data), opts()))).code).toBe('NOT_A_REPOSITORY');
    const p = repoPath();
    const b = await created(srv.url(p));
    await b.save({ type: 'config', name: 'config' }, Buffer.from('c'));
    expect((await rejection(createBackend(srv.url(p), opts()))).code).toBe('REPO_EXISTS');
  });

  it('an unreachable port: a transient error retried, then one line', async () => {
    const err = await rejection(openBackend('sftp://u@127.0.0.1:1//x', opts()));
    expect(err.code).toBe('BACKEND');
    expect(err.message).toBe('sftp u@127.0.0.1:1: cannot connect: connection refused (gave up after 3 attempts)');
  });

  it('a server that answers garbage: retried, then one line', async () => {
    const garbage = net.createServer((sock) => sock.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    try {
      const port = (garbage.address() as net.AddressInfo).port;
      const err = await rejection(openBackend(`sftp://u@127.0.0.1:${port}//x`, opts()));
      expect(err.code).toBe('BACKEND');
      expect(err.message).toMatch(new RegExp(`^sftp u@127\\.0\\.0\\.1:${port}: `));
      expect(err.message).toMatch(/closed the connection before the SSH handshake \(gave up after 3 attempts\)$/);
      expect(err.message).not.toMatch(/\n/);
    } finally {
      garbage.close();
    }
  });

  it('a full remote disk: "remote disk full" naming the file, nothing left behind (tmpfs; needs mount)', async (ctx) => {
    const dir = path.join(srv.data, `full-${randomId().slice(0, 8)}`);
    fs.mkdirSync(dir);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      fs.rmdirSync(dir);
      ctx.skip();
    }
    try {
      const b = await created(srv.url(path.join(dir, 'repo')));
      const big = Buffer.alloc(3 << 20, 7);
      const h = { type: 'data' as const, name: idOf(big) };
      const err = await rejection(b.save(h, big));
      expect(err.code).toBe('BACKEND');
      expect(err.message).toMatch(
        /^sftp \S+: remote disk full: cannot save data\/[0-9a-f]{2}\/[0-9a-f]{64} \(\d+ bytes free\)$/,
      );
      expect(fs.readdirSync(path.join(dir, 'repo', 'data', h.name.slice(0, 2)))).toEqual([]);
      await b.close();
    } finally {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    }
  });

  it('permission denied on a read-only server names the backend, operation and file', async () => {
    const ro = await startSshd({ subsystem: 'internal-sftp -R' });
    try {
      const p = path.join(ro.data, 'repo');
      const err = await rejection(createBackend(ro.url(p), { env: { HOME: ro.home }, retry: { baseDelayMs: 5 } }));
      expect(err.code).toBe('BACKEND');
      expect(err.message).toMatch(/^sftp \S+: permission denied: cannot create \.$/);
    } finally {
      await ro.stop();
    }
  });
});

describe('sftp specifics', () => {
  it('cleans up old temporary files only', async () => {
    const p = repoPath();
    const raw = new SftpBackend(resolveSftpTarget(parseSftpLocation(`testhost:${p}`), {}, { HOME: srv.home }), 'x');
    opened.push(raw);
    await raw.createRepository();
    const old = path.join(p, 'data', 'ab', '.tmp-old');
    fs.writeFileSync(old, 'x');
    fs.utimesSync(old, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    fs.writeFileSync(path.join(p, 'index', '.tmp-new'), 'x');
    expect(await raw.cleanupTemporaryFiles()).toBe(1);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(path.join(p, 'index', '.tmp-new'))).toBe(true);
  });

  it('writes a large file with many requests in flight and leaves no temporary file', async () => {
    const p = repoPath();
    const b = await created(srv.url(p));
    const parts = Array.from({ length: 300 }, (_, i) => Buffer.alloc(10_000 + i * 97, i));
    const whole = Buffer.concat(parts);
    const h = { type: 'data' as const, name: idOf(whole) };
    await b.save(h, parts);
    expect((await b.load(h)).equals(whole)).toBe(true);
    expect((await b.load(h, { offset: 123_456, length: 1_000_000 })).equals(whole.subarray(123_456, 1_123_456))).toBe(
      true,
    );
    expect(fs.readdirSync(path.join(p, 'data', h.name.slice(0, 2)))).toEqual([h.name]);
  });

  it('reconnects after the server dropped the connection', async () => {
    const p = repoPath();
    const b = await created(srv.url(p));
    const data = Buffer.from('before the drop');
    await b.save({ type: 'keys', name: idOf(data) }, data);
    await srv.kill();
    await srv.restart();
    const after = Buffer.from('after the drop');
    await b.save({ type: 'keys', name: idOf(after) }, after);
    expect(await listNames(b, 'keys')).toEqual([idOf(data), idOf(after)].sort());
  });
});
