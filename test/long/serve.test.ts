// `repo serve` driven by the built CLI over `rest:` with each role, on loopback: admin inits, backup backs up,
// restore restores; a backup user's forget --prune and a restore user's backup fail with one line and change
// nothing; a raw-HTTP ransomware drill with the backup credential (delete, overwrite, traversal) is refused
// with every byte kept; --append-only caps admin; a wrong password is a 401 in one line; TLS; size limits.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { addServeUser, type ServeProcess, startServe } from '../helpers/serve.js';
import { compareTrees } from '../helpers/tree-gen.js';

const PW = 'serve e2e repository password';
let tmp: string;
let src: string;
let repoDir: string;
let creds: string;
let server: ServeProcess;

const url = (user: string, pass: string, s: ServeProcess = server) =>
  `rest:${s.url.replace('://', `://${user}:${encodeURIComponent(pass)}@`)}/`;
const ADMIN = () => url('admin', 'admin pw');
const BACKUP = () => url('bk', 'backup pw');
const RESTORE = () => url('rs', 'restore pw');

async function run(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: tmp, password: PW });
}
async function ok(args: string[]): Promise<CliResult> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
/** Every file of the repository directory with a digest of its bytes. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}
const withoutLocks = (f: Record<string, string>) =>
  Object.fromEntries(Object.entries(f).filter(([k]) => !k.startsWith('locks/') && !k.startsWith('audit/')));
const errorLines = (r: CliResult) =>
  r.stderr
    .trim()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('warning:'));

/** Waits (up to 5 s) for the server's log line, which may arrive just after the response. */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(cond()).toBe(true);
}

/** One raw HTTP request to the server (for what the CLI never sends). */
function request(
  method: string,
  p: string,
  auth: string,
  body?: Buffer,
  port = server.port,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: p,
        headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  tmp = tempDir('repo-serve-e2e-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(prng(7), 2_000_000));
  fs.writeFileSync(path.join(src, 'sub', 'small.txt'), 'small\n');
  repoDir = path.join(tmp, 'repo');
  fs.mkdirSync(repoDir);
  creds = path.join(tmp, 'users.json');
  await addServeUser(creds, 'admin', 'admin', 'admin pw');
  await addServeUser(creds, 'bk', 'backup', 'backup pw');
  await addServeUser(creds, 'rs', 'restore', 'restore pw');
  server = await startServe(['--credentials', creds, '-r', repoDir]);
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('repo serve with roles', () => {
  it('keeps only scrypt hashes in the credentials file', () => {
    const text = fs.readFileSync(creds, 'utf8');
    expect(text).not.toContain('admin pw');
    expect(text).not.toContain('backup pw');
    expect(JSON.parse(text).users.map((u: { role: string }) => u.role)).toEqual(['admin', 'backup', 'restore']);
    expect(fs.statSync(creds).mode & 0o077).toBe(0);
  });

  it('admin inits, backup backs up twice, restore restores (without a lock), admin checks', async () => {
    await ok(['-r', ADMIN(), 'init']);
    await ok(['-r', BACKUP(), 'backup', 'src', '--host', 'h']);
    fs.writeFileSync(path.join(src, 'second.bin'), randomBuffer(prng(8), 300_000));
    await ok(['-r', BACKUP(), 'backup', 'src', '--host', 'h']);
    await ok(['-r', RESTORE(), '--no-lock', 'restore', 'latest', '--target', 'out']);
    const restored = [path.join(tmp, 'out', 'src'), path.join(tmp, 'out', path.relative('/', src))].find((p) =>
      fs.existsSync(p),
    )!;
    expect(compareTrees(src, restored)).toEqual([]);
    await ok(['-r', ADMIN(), 'check', '--read-data']);
    await waitFor(() =>
      server.log.some((l) =>
        /user=bk role=backup op=write method=POST object=\/snapshots\/[0-9a-f]{64} status=200/.test(l),
      ),
    );
  });

  it("a backup user's forget --prune fails with one line and leaves every file in place", async () => {
    const before = withoutLocks(fingerprint(repoDir));
    const r = await run(['-r', BACKUP(), 'forget', '--keep-last', '1', '--prune']);
    expect(r.code).toBe(1);
    const lines = errorLines(r);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^repo: rest:http:\/\/127\.0\.0\.1:\d+\/: cannot remove snapshots\/[0-9a-f]{64}: refused by the server \(HTTP 403\): role backup may delete only lock files, not snapshots files$/,
    );
    expect(withoutLocks(fingerprint(repoDir))).toEqual(before);
    expect(fs.readdirSync(path.join(repoDir, 'locks'))).toEqual([]); // it removed its own lock
    await ok(['-r', ADMIN(), 'check', '--read-data']);
  });

  it('a restore user cannot back up, and nothing changes', async () => {
    const before = fingerprint(repoDir);
    const r = await run(['-r', RESTORE(), 'backup', 'src']);
    expect(r.code).toBe(1);
    expect(errorLines(r)).toHaveLength(1);
    expect(errorLines(r)[0]).toContain('refused by the server (HTTP 403): role restore is read-only');
    expect(fingerprint(repoDir)).toEqual(before);
  });

  it('a wrong password is a 401 in one line, exit 1', async () => {
    const r = await run(['-r', url('bk', 'not it'), 'snapshots']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^repo: rest:http:\/\/127\.0\.0\.1:\d+\/: cannot stat config: authentication refused \(HTTP 401\): check the user name and password$/,
    );
    expect(r.stderr).not.toContain('not it');
  });

  it('ransomware drill: the backup credential cannot delete, overwrite or escape; not one byte changes', async () => {
    const before = fingerprint(repoDir);
    const auth = 'bk:backup pw';
    let tried = 0;
    let refused = 0;
    const expectRefused = async (method: string, p: string, body?: Buffer) => {
      tried++;
      const r = await request(method, p, auth, body);
      if (r.status >= 400) refused++;
      expect([400, 403, 404, 405]).toContain(r.status);
      if (r.status === 403) expect(r.text.trim().split('\n')).toHaveLength(1);
    };
    for (const rel of Object.keys(before)) {
      const [type, ...rest] = rel.split('/');
      const p = type === 'config' ? '/config' : `/${type}/${rest[rest.length - 1]}`;
      await expectRefused('DELETE', p);
      await expectRefused('POST', p, Buffer.from('ransom'));
      await expectRefused('POST', p, Buffer.alloc(0)); // truncate
      await expectRefused('PUT', p, Buffer.from('ransom'));
    }
    await expectRefused('POST', '/?create=true');
    await expectRefused('GET', '/../../etc/passwd');
    await expectRefused('POST', '/data/..%2f..%2fevil', Buffer.from('x'));
    await expectRefused('DELETE', '/data/');
    expect(refused).toBe(tried);
    process.stderr.write(
      `ransomware drill: ${tried} requests tried, ${refused} refused, ${Object.keys(before).length} files unchanged\n`,
    );
    expect(tried).toBeGreaterThan(20);
    expect(fingerprint(repoDir)).toEqual(before);
    await ok(['-r', ADMIN(), 'check', '--read-data']);
  });

  it('admin may forget --prune', async () => {
    await ok(['-r', ADMIN(), 'forget', '--keep-last', '1', '--prune']);
    const snaps = JSON.parse((await ok(['-r', RESTORE(), '--no-lock', '--json', 'snapshots'])).out);
    expect(snaps).toHaveLength(1);
  });
});

describe('repo serve --append-only, limits and TLS', () => {
  let ao: ServeProcess;
  beforeAll(async () => {
    ao = await startServe(['--credentials', creds, '-r', repoDir, '--append-only', '--max-request-size', '1000']);
  });
  afterAll(async () => ao?.stop());

  it('caps admin at backup rights and refuses oversized uploads', async () => {
    const before = withoutLocks(fingerprint(repoDir));
    const f = await run(['-r', url('admin', 'admin pw', ao), 'snapshots', '--json', '--no-lock']);
    const id = JSON.parse(f.out)[0].id as string;
    const del = await run(['-r', url('admin', 'admin pw', ao), 'forget', id]);
    expect(del.code).toBe(1);
    expect(errorLines(del)[0]).toContain('role backup may delete only lock files, not snapshots files');
    expect(withoutLocks(fingerprint(repoDir))).toEqual(before);
    const big = await request('POST', `/data/${'ab'.repeat(32)}`, 'admin:admin pw', Buffer.alloc(5000), ao.port);
    expect(big.status).toBe(413);
    expect(fs.existsSync(path.join(repoDir, 'data', 'ab', 'ab'.repeat(32)))).toBe(false);
    await waitFor(() => ao.log.some((l) => l.includes('status=413') && l.includes('user=admin role=backup')));
  });

  it('serves HTTPS with --tls-cert and --tls-key', async () => {
    const key = path.join(tmp, 'key.pem');
    const cert = path.join(tmp, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const tls = await startServe(['--credentials', creds, '-r', repoDir, '--tls-cert', cert, '--tls-key', key]);
    try {
      expect(tls.url.startsWith('https://')).toBe(true);
      const r = await ok(['-r', url('rs', 'restore pw', tls), '--cacert', cert, '--no-lock', '--json', 'snapshots']);
      expect(JSON.parse(r.out)).toHaveLength(1);
    } finally {
      await tls.stop();
    }
  });
});

const RESTIC = '/usr/bin/restic';
describe.skipIf(!fs.existsSync(RESTIC))('restic 0.14 through repo serve', () => {
  let srv: ServeProcess;
  let roots: string;
  beforeAll(async () => {
    roots = path.join(tmp, 'roots');
    fs.mkdirSync(roots);
    srv = await startServe(['--credentials', creds, '--mount', `/=${roots}`, '--subpaths']);
  });
  afterAll(async () => srv?.stop());

  const restic = (user: string, pass: string, args: string[]) => {
    try {
      const out = execFileSync(RESTIC, ['--no-cache', '-r', `${url(user, pass, srv)}r1/`, ...args], {
        cwd: tmp,
        env: { PATH: process.env.PATH, HOME: tmp, RESTIC_PASSWORD: PW },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { code: 0, out: out.toString('utf8'), err: '' };
    } catch (e) {
      const x = e as { status: number; stdout: Buffer; stderr: Buffer };
      return { code: x.status, out: x.stdout.toString('utf8'), err: x.stderr.toString('utf8') };
    }
  };

  it('inits as admin, backs up as backup, lists and checks as restore; forget as backup is refused', () => {
    expect(restic('admin', 'admin pw', ['init']).code).toBe(0);
    expect(restic('bk', 'backup pw', ['backup', 'src']).code).toBe(0);
    const snaps = JSON.parse(restic('rs', 'restore pw', ['--no-lock', '--json', 'snapshots']).out) as Array<{
      id: string;
    }>;
    expect(snaps).toHaveLength(1);
    const before = fingerprint(path.join(roots, 'r1'));
    const forget = restic('bk', 'backup pw', ['forget', snaps[0].id]);
    expect(forget.code).not.toBe(0);
    expect(withoutLocks(fingerprint(path.join(roots, 'r1')))).toEqual(withoutLocks(before));
    expect(restic('rs', 'restore pw', ['--no-lock', 'check', '--read-data']).code).toBe(0);
  });
});
