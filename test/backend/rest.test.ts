// RestBackend against Debian's real rclone: `rclone serve restic` over HTTP on loopback (rest:) and
// `rclone serve restic --stdio` as a child (rclone:). The conformance suite on both, then bad input: an
// unreachable host, refused authentication, a wrong path, an answer that is not HTTP, a missing rclone, an
// append-only server; each must end in one line naming the backend and the operation, never the password.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepoError } from '../../src/core/errors.js';
import { type Backend } from '../../src/backend/backend.js';
import { createBackend, openBackend, parseLocation } from '../../src/backend/open.js';
import { ByteBudget } from '../../src/backend/rate-limit.js';
import { RateLimitedBackend } from '../../src/backend/rate-limit.js';
import { RestBackend } from '../../src/backend/rest.js';
import { layers, unwrap } from '../../src/backend/stack.js';
import { HAVE_RCLONE, type RcloneServer, startRcloneServer } from '../helpers/rclone-server.js';
import { backendConformance, listNames, randomId, rejection } from './conformance.js';

const NO_RETRY = { retry: { attempts: 1 } };
let server: RcloneServer;
let counter = 0;

beforeAll(async () => {
  if (HAVE_RCLONE) server = await startRcloneServer();
});
afterAll(async () => {
  await server?.stop();
});

/** A fresh repository on the shared server, as the raw RestBackend (the conformance suite tests its contract). */
async function freshRest(): Promise<Backend> {
  const b = await createBackend(`rest:${server.url}/conformance-${++counter}`, NO_RETRY);
  return unwrap(b, RestBackend)!;
}

describe.skipIf(!HAVE_RCLONE)('rest: over rclone serve restic (HTTP)', () => {
  backendConformance('RestBackend over rclone serve restic', async () => ({ backend: await freshRest() }));
});

describe.skipIf(!HAVE_RCLONE)('rclone: over rclone serve restic --stdio', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-rclone-stdio-'));
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
  backendConformance('RestBackend over rclone --stdio (local remote)', async () => {
    const b = await createBackend(`rclone::local:${base}/r${++counter}`, NO_RETRY);
    return { backend: unwrap(b, RestBackend)! };
  });

  it('moves several large packs at once over one HTTP/2 connection', async () => {
    const b = await createBackend(`rclone:${base}/large`, NO_RETRY);
    const packs = [0, 1, 2, 3].map((i) => Buffer.alloc(24 * 1024 * 1024 + i, i + 1));
    const ids = packs.map(() => randomId());
    await Promise.all(packs.map((p, i) => b.save({ type: 'data', name: ids[i] }, p)));
    const back = await Promise.all(ids.map((id) => b.load({ type: 'data', name: id })));
    back.forEach((got, i) => expect(got.equals(packs[i])).toBe(true));
    await b.close();
  });

  it('stores the same layout as a local repository, and stops rclone on close', async () => {
    const dir = path.join(base, 'layout');
    const b = await createBackend(`rclone:${dir}`, NO_RETRY);
    const id = randomId();
    await b.save({ type: 'data', name: id }, Buffer.from('pack'));
    await b.save({ type: 'audit', name: id }, Buffer.from('entry'));
    await b.close();
    expect(fs.readFileSync(path.join(dir, 'data', id.slice(0, 2), id), 'utf8')).toBe('pack');
    expect(fs.readFileSync(path.join(dir, 'audit', id), 'utf8')).toBe('entry');
  });
});

describe.skipIf(!HAVE_RCLONE)('rclone: options', () => {
  it('-o rclone.program and rclone.args replace the command; the child gets no password variable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-rclone-opts-'));
    try {
      const wrapper = path.join(dir, 'my-rclone');
      fs.writeFileSync(wrapper, `#!/bin/sh\nenv > "${dir}/env"\necho "$@" > "${dir}/args"\nexec rclone "$@"\n`, {
        mode: 0o755,
      });
      const env = {
        ...process.env,
        RCLONE_CONFIG: '/dev/null',
        REPO_PASSWORD: 'pw-one',
        REPO_FROM_PASSWORD_FILE: '/x',
        REPO_REST_PASSWORD: 'pw-two',
        KEEP_ME: 'yes',
      };
      const b = await createBackend(`rclone:${dir}/repo`, {
        ...NO_RETRY,
        env,
        extended: { 'rclone.program': wrapper, 'rclone.args': 'serve restic --stdio --verbose' },
      });
      await b.close();
      expect(fs.readFileSync(path.join(dir, 'args'), 'utf8').trim()).toBe(`serve restic --stdio --verbose ${dir}/repo`);
      const childEnv = fs.readFileSync(path.join(dir, 'env'), 'utf8');
      expect(childEnv).toContain('KEEP_ME=yes');
      expect(childEnv).not.toMatch(/pw-one|pw-two|REPO_FROM_PASSWORD_FILE/);
      expect(fs.existsSync(path.join(dir, 'repo', 'keys'))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('locations', () => {
  it('parses rest: and rclone: and keeps credentials out of the location', async () => {
    expect(parseLocation('rest:https://u:p%40ss@host:8000/repo')).toMatchObject({
      scheme: 'rest',
      origin: 'https://host:8000',
      basePath: '/repo/',
      username: 'u',
      password: 'p@ss',
    });
    expect(parseLocation('rclone:gdrive:backups/x')).toEqual({ scheme: 'rclone', remote: 'gdrive:backups/x' });
    for (const bad of ['rest:', 'rest:ftp://host/x', 'rest:http://h/x?q=1', 'rclone:']) {
      let caught: unknown;
      try {
        parseLocation(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(RepoError);
      expect((caught as RepoError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe.skipIf(!HAVE_RCLONE)('bad input: one line naming the backend and the operation', () => {
  it('an unreachable host (retried, then given up)', async () => {
    const err = await rejection(
      openBackend('rest:http://user:hunter2@127.0.0.1:1/repo', { retry: { attempts: 2, baseDelayMs: 1 } }),
    );
    expect(err.code).toBe('BACKEND');
    expect(err.message).toMatch(
      /^rest:http:\/\/127\.0\.0\.1:1\/repo\/: cannot stat config: .*ECONNREFUSED.*gave up after 2 attempts/,
    );
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('\n');
  });

  it('refused authentication, without the password', async () => {
    const s = await startRcloneServer(['--user', 'alice', '--pass', 'right-secret']);
    try {
      const err = await rejection(createBackend(`rest:http://alice:wrong-secret@${s.url.slice(7)}/r`, NO_RETRY));
      expect(err.message).toMatch(
        /^rest:http:\/\/127\.0\.0\.1:\d+\/r\/: cannot create repository: authentication refused \(HTTP 401\)/,
      );
      expect(err.message).not.toContain('wrong-secret');
      // The right password, from the environment instead of the URL.
      const b = await createBackend(`rest:${s.url}/r`, {
        ...NO_RETRY,
        env: { REPO_REST_USERNAME: 'alice', REPO_REST_PASSWORD: 'right-secret' },
      });
      expect(b.location).toBe(`rest:${s.url}/r/`);
      await b.close();
    } finally {
      await s.stop();
    }
  });

  it('a wrong path is REPO_NOT_FOUND', async () => {
    const err = await rejection(openBackend(`rest:${server.url}/no-such-repo`, NO_RETRY));
    expect(err.code).toBe('REPO_NOT_FOUND');
    expect(err.message).toBe(`no repository at rest:${server.url}/no-such-repo/: the server has no config there`);
  });

  it('a server that answers garbage', async () => {
    const garbage = net.createServer((sock) => {
      sock.on('data', () => sock.end('SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP\r\n\r\n'));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const port = (garbage.address() as net.AddressInfo).port;
    try {
      const err = await rejection(
        openBackend(`rest:http://127.0.0.1:${port}/repo`, { retry: { attempts: 2, baseDelayMs: 1 } }),
      );
      expect(err.code).toBe('BACKEND');
      expect(err.message).toBe(
        `rest:http://127.0.0.1:${port}/repo/: cannot stat config: the server's answer is not HTTP`,
      );
    } finally {
      garbage.close();
    }
  });

  it('rclone missing, or a remote rclone does not know', async () => {
    const missing = await rejection(
      openBackend('rclone:/tmp/x', { extended: { 'rclone.program': '/nonexistent/rclone' } }),
    );
    expect(missing.message).toMatch(
      /^rclone: cannot start "\/nonexistent\/rclone": program not found \(install rclone, or name it with -o rclone.program=PATH\)$/,
    );
    const unknown = await rejection(
      openBackend('rclone:nosuchremote:path', {
        env: { ...process.env, RCLONE_CONFIG: '/dev/null' },
        retry: { attempts: 3, baseDelayMs: 1 },
      }),
    );
    expect(unknown.code).toBe('BACKEND');
    expect(unknown.message).toMatch(/^rclone:nosuchremote:path: cannot stat config: .*rclone exited with status \d+/);
    expect(unknown.message).not.toMatch(/gave up/); // a dead rclone is not retried
  });

  it('an append-only server keeps everything but locks', async () => {
    const s = await startRcloneServer(['--append-only']);
    try {
      const b = await createBackend(`rest:${s.url}/ao`, NO_RETRY);
      const id = randomId();
      await b.save({ type: 'data', name: id }, Buffer.from('pack'));
      await b.save({ type: 'locks', name: id }, Buffer.from('lock'));
      await b.remove({ type: 'locks', name: id });
      const err = await rejection(b.remove({ type: 'data', name: id }));
      expect(err.code).toBe('BACKEND');
      expect(err.message).toMatch(
        /^rest:http:\/\/127\.0\.0\.1:\d+\/ao\/: cannot remove data\/.{2}\/.{64}: forbidden \(HTTP 403; an append-only server refuses deletions\)$/,
      );
      expect(await listNames(b, 'data')).toEqual([id]);
      await b.close();
    } finally {
      await s.stop();
    }
  });
});

describe('bandwidth limits', () => {
  it('ByteBudget lets a second of burst through, then makes each caller wait for its bytes', () => {
    let now = 0;
    const budget = new ByteBudget(1000, () => now);
    expect(budget.take(600)).toBe(0);
    expect(budget.take(400)).toBe(0);
    expect(budget.take(500)).toBe(500); // 500 bytes in debt at 1000 B/s
    expect(budget.take(500)).toBe(1000); // queued behind the first debt
    now = 2000; // the debt is paid off and the bucket refills to at most one second
    expect(budget.take(1000)).toBe(0);
    expect(budget.take(1)).toBeGreaterThan(0);
  });

  it('openBackend stacks the limits under the retry layer for remote backends only', async () => {
    if (!HAVE_RCLONE) return;
    const b = await createBackend(`rest:${server.url}/limited`, { limits: { uploadKiBps: 512, downloadKiBps: 0 } });
    expect([...layers(b)].map((l) => l.constructor.name)).toEqual([
      'RetryBackend',
      'RateLimitedBackend',
      'RestBackend',
    ]);
    expect(unwrap(b, RateLimitedBackend)).toBeDefined();
    await b.close();
    const local = await createBackend(fs.mkdtempSync(path.join(os.tmpdir(), 'repo-lim-')) + '/r', {
      limits: { uploadKiBps: 1 },
    });
    expect(unwrap(local, RateLimitedBackend)).toBeUndefined();
    await local.close();
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`. */
function makeCertificates(dir: string): {
  ca: string;
  serverCert: string;
  serverKey: string;
  client: string;
  otherCa: string;
} {
  const sh = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr.toString()}`);
  };
  const subj = (cn: string) => ['-subj', `/CN=${cn}`];
  for (const ca of ['ca', 'other-ca']) {
    sh([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '2',
      ...subj(`repo test ${ca}`),
    ]);
  }
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', ...subj('127.0.0.1')]);
  sh([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  sh(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', ...subj('backup client')]);
  sh([
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '2',
  ]);
  fs.writeFileSync(
    path.join(dir, 'client.pem'),
    fs.readFileSync(path.join(dir, 'client.crt'), 'utf8') + fs.readFileSync(path.join(dir, 'client.key'), 'utf8'),
  );
  const p = (f: string) => path.join(dir, f);
  return {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    client: p('client.pem'),
    otherCa: p('other-ca.pem'),
  };
}

const HAVE_OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!HAVE_RCLONE || !HAVE_OPENSSL)(
  'TLS: --cacert and --tls-client-cert against rclone serve restic over https',
  () => {
    let certs: ReturnType<typeof makeCertificates>;
    let tlsServer: RcloneServer;
    let certDir: string;
    beforeAll(async () => {
      certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-tls-'));
      certs = makeCertificates(certDir);
      tlsServer = await startRcloneServer([
        '--cert',
        certs.serverCert,
        '--key',
        certs.serverKey,
        '--client-ca',
        certs.ca,
      ]);
    });
    afterAll(async () => {
      await tlsServer?.stop();
      fs.rmSync(certDir, { recursive: true, force: true });
    });

    it('works with the CA and a client certificate; fails in one line without either', async () => {
      expect(tlsServer.url).toMatch(/^https:/);
      const loc = `rest:${tlsServer.url}/tls`;
      const b = await createBackend(loc, { ...NO_RETRY, tls: { caFiles: [certs.ca], clientCertFile: certs.client } });
      await b.save({ type: 'keys', name: randomId() }, Buffer.from('key'));
      expect(await listNames(b, 'keys')).toHaveLength(1);
      await b.close();

      const untrusted = await rejection(
        openBackend(loc, { ...NO_RETRY, tls: { caFiles: [certs.otherCa], clientCertFile: certs.client } }),
      );
      expect(untrusted.code).toBe('BACKEND');
      expect(untrusted.message).toMatch(
        /^rest:https:\/\/127\.0\.0\.1:\d+\/tls\/: cannot stat config: .*(certificate|self-signed|issuer)/i,
      );
      const noClientCert = await rejection(openBackend(loc, { ...NO_RETRY, tls: { caFiles: [certs.ca] } }));
      expect(noClientCert.message).toMatch(/^rest:https:\/\/127\.0\.0\.1:\d+\/tls\/: cannot stat config: /);
      const missingFile = await rejection(openBackend(loc, { tls: { caFiles: [path.join(certDir, 'nope.pem')] } }));
      expect(missingFile.code).toBe('INVALID_ARGUMENT');
      expect(missingFile.message).toBe(`cannot read --cacert ${path.join(certDir, 'nope.pem')}: ENOENT`);
    });
  },
);
