// Ransomware drill against `repo serve` (subprocess on loopback): with the backup credential (and the restore
// one), every way to destroy each kind of repository file through the protocol — delete, overwrite, truncate,
// empty, rename (copy under a new name + delete), MOVE/PUT, traversal — is refused, no byte changes, and
// `check --read-data` passes. Also: a backup user deletes only locks it created, remembered across a server
// restart; --audit puts the requests (refusals included) into the repository's verifiable audit log;
// --private-repos keeps each user under /USER/; destroy --crypto-erase works through it for admin only.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { blake3 } from '../../src/crypto/blake3.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { addServeUser, type ServeProcess, startServe } from '../helpers/serve.js';

const PW = 'drill repository password';
let tmp: string;
let repoDir: string;
let creds: string;
let pwFile: string;
let server: ServeProcess;

const url = (user: string, pass: string, s: ServeProcess = server, sub = '') =>
  `rest:${s.url.replace('://', `://${user}:${encodeURIComponent(pass)}@`)}/${sub}`;
const USERS = { admin: 'admin pw', bk: 'backup pw', alice: 'alice pw', rs: 'restore pw' } as const;

async function ok(args: string[]): Promise<CliResult> {
  const r = await runCli(args, { cwd: tmp, password: PW });
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}

function request(
  method: string,
  p: string,
  user: keyof typeof USERS | string,
  body?: Buffer,
  extra: Record<string, string> = {},
  s: ServeProcess = server,
): Promise<{ status: number; text: string }> {
  const pass = (USERS as Record<string, string>)[user] ?? `${user} pw`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: s.port,
        method,
        path: p,
        headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, ...extra },
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

/** path → [size, sha256] of every file under dir. */
function fingerprint(dir: string): Map<string, [number, string]> {
  const out = new Map<string, [number, string]>();
  for (const rel of fs.readdirSync(dir, { recursive: true }).map(String)) {
    const p = path.join(dir, rel);
    if (!fs.statSync(p).isFile()) continue;
    const b = fs.readFileSync(p);
    out.set(rel, [b.length, createHash('sha256').update(b).digest('hex')]);
  }
  return out;
}

/** Bytes of files changed, removed, or added (outside audit/, where the server appends its own entries). */
function bytesChanged(before: Map<string, [number, string]>, after: Map<string, [number, string]>): number {
  let n = 0;
  for (const [k, [size, digest]] of before) {
    const a = after.get(k);
    if (a === undefined || a[1] !== digest) n += Math.max(size, a?.[0] ?? 0);
  }
  for (const [k, [size]] of after) if (!before.has(k) && !k.startsWith('audit/')) n += size;
  return n;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const firstIn = (type: string) => fs.readdirSync(path.join(repoDir, type)).filter((n) => /^[0-9a-f]{64}$/.test(n))[0];

beforeAll(async () => {
  tmp = tempDir('repo-serve-drill-');
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'big.bin'), randomBuffer(prng(21), 1_200_000));
  fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');
  repoDir = path.join(tmp, 'repo');
  fs.mkdirSync(repoDir);
  creds = path.join(tmp, 'users.json');
  pwFile = path.join(tmp, 'pw.txt');
  fs.writeFileSync(pwFile, `${PW}\n`);
  await addServeUser(creds, 'admin', 'admin', USERS.admin);
  await addServeUser(creds, 'bk', 'backup', USERS.bk);
  await addServeUser(creds, 'alice', 'backup', USERS.alice);
  await addServeUser(creds, 'rs', 'restore', USERS.rs);
  server = await startServe(['--credentials', creds, '-r', repoDir, '--audit', '--password-file', pwFile]);
  await ok(['-r', url('admin', USERS.admin), 'init']);
  await ok(['-r', url('bk', USERS.bk), 'backup', src, '--host', 'h']);
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ransomware drill through repo serve', { timeout: 180_000 }, () => {
  let aliceLock: string;

  it('refuses every destructive request of the backup and restore credentials; no byte changes', async () => {
    const lockBytes = randomBytes(200);
    aliceLock = hex(blake3(lockBytes));
    expect((await request('POST', `/locks/${aliceLock}`, 'alice', lockBytes)).status).toBe(200);
    const pack = fs
      .readdirSync(path.join(repoDir, 'data'), { recursive: true })
      .map(String)
      .find((p) => /[0-9a-f]{64}$/.test(p))!;
    const targets: Array<{ kind: string; url: string; file: string }> = [
      { kind: 'config', url: '/config', file: 'config' },
      ...['keys', 'index', 'snapshots', 'audit'].map((t) => ({
        kind: t,
        url: `/${t}/${firstIn(t)}`,
        file: `${t}/${firstIn(t)}`,
      })),
      { kind: 'data', url: `/data/${path.basename(pack)}`, file: `data/${pack}` },
      { kind: 'locks', url: `/locks/${aliceLock}`, file: `locks/${aliceLock}` },
    ];
    const before = fingerprint(repoDir);
    let tried = 0;
    let refused = 0;
    const accepted: string[] = [];
    const attempt = async (
      user: string,
      method: string,
      p: string,
      body?: Buffer,
      headers?: Record<string, string>,
    ) => {
      tried++;
      const r = await request(method, p, user, body, headers);
      if (r.status >= 400) refused++;
      else accepted.push(`${user} ${method} ${p} → ${r.status}`);
    };
    for (const user of ['bk', 'rs']) {
      for (const t of targets) {
        const original = fs.readFileSync(path.join(repoDir, t.file));
        const newName = hex(randomBytes(32));
        const typeDir = t.kind === 'config' ? 'keys' : t.kind;
        await attempt(user, 'DELETE', t.url);
        await attempt(user, 'POST', t.url, randomBytes(original.length)); // overwrite
        await attempt(user, 'POST', t.url, original.subarray(0, Math.floor(original.length / 2))); // truncate
        await attempt(user, 'POST', t.url, Buffer.alloc(0)); // empty
        await attempt(user, 'POST', `/${typeDir}/${newName}`, original); // rename, step 1: copy under a new name
        await attempt(user, 'DELETE', t.url); // rename, step 2: remove the original
        await attempt(user, 'MOVE', t.url, undefined, { destination: `/${typeDir}/${newName}` });
        await attempt(user, 'PUT', t.url, randomBytes(64));
        await attempt(user, 'POST', `/data/..${t.url}`, randomBytes(64)); // traversal
        await attempt(user, 'DELETE', `/%2e%2e${t.url}`);
      }
      // A new key file (a password the attacker knows) and a replaced config are writes of their own kind.
      const key = randomBytes(300);
      await attempt(user, 'POST', `/keys/${hex(blake3(key))}`, key);
    }
    const changed = bytesChanged(before, fingerprint(repoDir));
    console.log(`ransomware drill: requests tried ${tried}, refused ${refused}, bytes changed ${changed}`);
    expect(accepted).toEqual([]);
    expect(refused).toBe(tried);
    expect(changed).toBe(0);
    await ok(['-r', url('admin', USERS.admin), 'check', '--read-data']);
  });

  it('a backup user deletes only the locks it created, also after a server restart', async () => {
    await server.stop();
    server = await startServe(['--credentials', creds, '-r', repoDir, '--audit', '--password-file', pwFile]);
    const own = randomBytes(150);
    const ownId = hex(blake3(own));
    expect((await request('POST', `/locks/${ownId}`, 'bk', own)).status).toBe(200);
    const theirs = await request('DELETE', `/locks/${aliceLock}`, 'bk');
    expect(theirs.status).toBe(403);
    expect(theirs.text).toMatch(/only lock files it created itself; user alice created this one/);
    expect(fs.existsSync(path.join(repoDir, 'locks', aliceLock))).toBe(true);
    expect((await request('DELETE', `/locks/${ownId}`, 'bk')).status).toBe(200);
    expect((await request('DELETE', `/locks/${aliceLock}`, 'alice')).status).toBe(200);
    expect(fs.readdirSync(path.join(repoDir, 'locks'))).toEqual([]);
    // The CLI's own lock handling still works for the backup role (it removes only what it wrote).
    await ok(['-r', url('bk', USERS.bk), 'snapshots']);
  });

  it('--audit: the requests, refusals included, are in the verifiable audit log', async () => {
    await server.stop(); // appends what is still gathered
    const r = await ok(['-r', repoDir, '--json', 'log', '--verify', '--operation', 'serve']);
    const log = JSON.parse(r.out);
    expect(log.ok).toBe(true);
    const requests = log.entries.flatMap(
      (e: { details: { requests: Array<Record<string, unknown>> } }) => e.details.requests,
    );
    expect(
      requests.some((q: Record<string, unknown>) => q.user === 'bk' && q.status === 403 && q.method === 'DELETE'),
    ).toBe(true);
    expect(requests.some((q: Record<string, unknown>) => q.user === 'admin' && q.op === 'create-repository')).toBe(
      true,
    );
    expect(
      log.entries.some(
        (e: { result: string; error?: string }) => e.result === 'failure' && /refused/.test(e.error ?? ''),
      ),
    ).toBe(true);
    expect(JSON.stringify(log)).not.toMatch(/backup pw|admin pw/);
    server = await startServe(['--credentials', creds, '-r', repoDir]);
  });

  it('--private-repos: each user reaches only /USER/…', async () => {
    const parent = path.join(tmp, 'private');
    fs.mkdirSync(parent);
    await addServeUser(creds, 'carol', 'admin', 'carol pw');
    await addServeUser(creds, 'dave', 'admin', 'dave pw');
    const priv = await startServe(['--credentials', creds, '-r', parent, '--private-repos']);
    try {
      await ok(['-r', url('carol', 'carol pw', priv, 'carol/'), 'init']);
      expect(fs.existsSync(path.join(parent, 'carol', 'config'))).toBe(true);
      const other = await runCli(['-r', url('dave', 'dave pw', priv, 'carol/'), 'snapshots'], { password: PW });
      expect(other.code).toBe(1);
      expect(other.stderr.trim().split('\n')).toEqual([expect.stringMatching(/HTTP 403/)]);
      const refused = await request('GET', '/carol/config', 'dave', undefined, {}, priv);
      expect(refused.status).toBe(403);
      expect(refused.text).toMatch(/user dave may use only \/dave\//);
      expect((await request('GET', '/config', 'carol', undefined, {}, priv)).status).toBe(403);
      expect((await request('GET', '/carol/config', 'carol', undefined, {}, priv)).status).toBe(200);
    } finally {
      await priv.stop();
    }
  });

  it('destroy --crypto-erase: refused for the backup role with nothing removed; the admin role empties the location', async () => {
    const id = JSON.parse((await ok(['-r', repoDir, 'cat', 'config'])).out).id as string;
    const before = fingerprint(repoDir);
    const bk = await runCli(['-r', url('bk', USERS.bk), 'destroy', '--crypto-erase', '--confirm', id], {
      password: PW,
    });
    expect(bk.code).toBe(1);
    expect(
      bk.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('warning:')),
    ).toEqual([expect.stringMatching(/403/)]);
    expect(bytesChanged(before, fingerprint(repoDir))).toBe(0);
    await ok(['-r', url('admin', USERS.admin), 'destroy', '--crypto-erase', '--confirm', id]);
    expect([...fingerprint(repoDir).keys()]).toEqual([]);
  });
});
