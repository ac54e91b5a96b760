// SFTP locations, ~/.ssh/config resolution and known_hosts pattern matching: pure functions, no server
// (the backend against a real sshd is test/long/sftp-backend.test.ts).

import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatSftpLocation, parseLocation, parseSftpLocation, resolveSftpTarget } from '../../src/backend/index.js';
import { patternsMatch } from '../../src/backend/sftp-hostkeys.js';

describe('sftp locations', () => {
  it('parses both forms, like restic', () => {
    expect(parseSftpLocation('user@host:/srv/repo')).toEqual({ user: 'user', host: 'host', path: '/srv/repo' });
    expect(parseSftpLocation('host:backups/repo/')).toEqual({ host: 'host', path: 'backups/repo' });
    expect(parseSftpLocation('//user@host:2222//srv/repo')).toEqual({
      user: 'user',
      host: 'host',
      port: 2222,
      path: '/srv/repo',
    });
    expect(parseSftpLocation('//host/rel/repo')).toEqual({ host: 'host', path: 'rel/repo' });
    expect(parseSftpLocation('//u@[::1]:22//r')).toEqual({ user: 'u', host: '::1', port: 22, path: '/r' });
    expect(parseSftpLocation('u@[::1]:/r')).toEqual({ user: 'u', host: '::1', path: '/r' });
    expect(parseLocation('sftp://a@b:3//c')).toEqual({ scheme: 'sftp', user: 'a', host: 'b', port: 3, path: '/c' });
    expect(formatSftpLocation({ user: 'a', host: 'b', port: 3, path: '/c' })).toBe('sftp://a@b:3//c');
    expect(formatSftpLocation({ host: 'b', path: 'c' })).toBe('sftp:b:c');
  });

  it('refuses passwords, missing paths and bad ports without echoing them', () => {
    for (const bad of [
      '//u:secret@host//p',
      'u:secret@host:/p',
      'host',
      'host:',
      '//host:99999//p',
      '//host',
      'host:..',
    ]) {
      let err: unknown;
      try {
        parseSftpLocation(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(Error);
      expect((err as { code?: string }).code).toBe('INVALID_ARGUMENT');
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('applies ~/.ssh/config: HostName, User, Port, IdentityFile, UserKnownHostsFile; the location wins', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-sshcfg-'));
    fs.mkdirSync(path.join(home, '.ssh'));
    fs.writeFileSync(path.join(home, '.ssh', 'k1'), 'x');
    fs.writeFileSync(
      path.join(home, '.ssh', 'config'),
      'Host nas\n  HostName 10.1.2.3\n  User backup\n  Port 2022\n  IdentityFile ~/.ssh/k1\n  IdentityFile ~/.ssh/missing\n  UserKnownHostsFile ~/.ssh/kh_%h\nHost *\n  User other\n',
    );
    try {
      const t = resolveSftpTarget(
        parseSftpLocation('nas:/srv/r'),
        {},
        { HOME: home, SSH_AUTH_SOCK: '/tmp/agent.sock' },
      );
      expect(t).toMatchObject({
        hostname: '10.1.2.3',
        user: 'backup',
        port: 2022,
        path: '/srv/r',
        agent: '/tmp/agent.sock',
      });
      expect(t.identityFiles).toEqual([path.join(home, '.ssh', 'k1')]);
      expect(t.knownHostsFiles[0]).toBe(path.join(home, '.ssh', 'kh_10.1.2.3'));
      const u = resolveSftpTarget(parseSftpLocation('//me@nas:2200//r'), {}, { HOME: home });
      expect(u).toMatchObject({ user: 'me', port: 2200, hostname: '10.1.2.3' });
      expect(u.agent).toBeUndefined();
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('known_hosts patterns', () => {
  it('matches patterns, negations and hashed names', () => {
    expect(patternsMatch('host,*.example.com', 'a.example.com')).toBe(true);
    expect(patternsMatch('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false);
    expect(patternsMatch('[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true);
    expect(patternsMatch('127.0.0.1', '[127.0.0.1]:2222')).toBe(false);
    const salt = Buffer.from('0123456789abcdef0123');
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[nas]:2222').digest('base64')}`;
    expect(patternsMatch(hashed, '[nas]:2222')).toBe(true);
    expect(patternsMatch(hashed, 'nas')).toBe(false);
    expect(patternsMatch(`other,!${hashed}`, '[nas]:2222')).toBe(false);
  });
});
