// `destroy --crypto-erase` through the built CLI (long: several inits and an S3 server): a wrong or missing
// confirmation removes nothing; on a local directory and on S3 (s3rver on loopback) it leaves an empty location
// that the old password cannot open; killed right after the key files are gone (a test crash point) the
// repository is unreadable and a rerun finishes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliEnv, runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { s3CliEnv, type S3TestServer, startS3Server } from '../helpers/s3server.js';

const PW = 'destroy test password';
let tmp: string;
let src: string;
let srv: S3TestServer;

function s3Env(): Record<string, string | undefined> {
  return s3CliEnv(srv.credentials);
}
async function run(repo: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(['-r', repo, ...args], { cwd: tmp, password: PW, env });
}
async function ok(repo: string, args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const r = await run(repo, args, env);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
async function newRepo(repo: string, env: Record<string, string | undefined> = {}): Promise<string> {
  await ok(repo, ['init'], env);
  await ok(repo, ['backup', src], env);
  return JSON.parse((await ok(repo, ['cat', 'config'], env)).out).id as string;
}
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String);
}
const errorLines = (r: CliResult) =>
  r.stderr
    .trim()
    .split('\n')
    .filter((l) => l !== '');

beforeAll(async () => {
  tmp = tempDir('repo-destroy-');
  src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'data.bin'), randomBuffer(prng(5), 600_000));
  fs.writeFileSync(path.join(src, 'small.txt'), 'small\n');
  srv = await startS3Server({ bucket: 'destroy' });
});
afterAll(async () => {
  await srv?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('destroy --crypto-erase', { timeout: 180_000 }, () => {
  it('refuses without --crypto-erase or with a wrong id, then empties a local directory; the old password opens nothing', async () => {
    const repo = path.join(tmp, 'local');
    const id = await newRepo(repo);
    const before = filesUnder(repo).sort();
    for (const args of [
      ['destroy'],
      ['destroy', '--crypto-erase', '--confirm', '00000000'],
      ['destroy', '--crypto-erase'],
    ]) {
      const r = await run(repo, args);
      expect(r.code, r.stderr).toBe(1);
      expect(errorLines(r)).toHaveLength(1);
    }
    expect(filesUnder(repo).sort()).toEqual(before);
    const r = await ok(repo, ['--json', 'destroy', '--crypto-erase', '--confirm', id.slice(0, 8)]);
    const msg = JSON.parse(r.out.trim());
    expect(msg).toMatchObject({ message_type: 'destroyed', repository: id, keys_removed: 1, config_removed: true });
    expect(msg.files_removed).toBeGreaterThan(3);
    expect(filesUnder(repo)).toEqual([]);
    const after = await run(repo, ['snapshots']);
    expect(after.code).toBe(10);
  });

  it('empties an S3 prefix (s3rver)', async () => {
    const repo = `s3:${srv.endpoint}/${srv.bucket}/erase`;
    const id = await newRepo(repo, s3Env());
    await ok(repo, ['destroy', '--crypto-erase', '--confirm', id], s3Env());
    const objects = filesUnder(path.join(srv.dir, srv.bucket)).filter(
      (f) => f.includes('_S3rver_object') && f.startsWith('erase'),
    );
    expect(objects).toEqual([]);
    expect((await run(repo, ['snapshots'], s3Env())).code).toBe(10);
  });

  it('killed after the key files are gone: unreadable, and a rerun finishes', async () => {
    const repo = path.join(tmp, 'crash');
    const id = await newRepo(repo);
    const killed = spawnSync(process.execPath, [CLI, '-r', repo, 'destroy', '--crypto-erase', '--confirm', id], {
      env: cliEnv(PW, { REPO_TEST_ENABLE_CRASH_POINTS: '1', REPO_TEST_CRASH_AT: 'erase-keys-removed' }),
      encoding: 'utf8',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(fs.readdirSync(path.join(repo, 'keys'))).toEqual([]);
    expect(fs.existsSync(path.join(repo, 'config'))).toBe(true); // still there, but nothing can decrypt it
    expect(fs.readdirSync(path.join(repo, 'snapshots')).length).toBe(1);
    const locked = await run(repo, ['snapshots']);
    expect(locked.code).not.toBe(0);
    expect(errorLines(locked)).toEqual([expect.stringMatching(/no key files/)]);
    const rerun = await ok(repo, ['destroy', '--crypto-erase', '--confirm', id]);
    expect(rerun.out).toMatch(/removed 0 key files and the config/);
    expect(filesUnder(repo)).toEqual([]);
  });
});
