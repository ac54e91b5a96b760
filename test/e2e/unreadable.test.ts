// Backing up files that cannot be read (issue 14 item 9). Some unreadable: the snapshot is saved without them, exit 3
// (as restic). None readable: restic 0.14 saves a snapshot of bare directories and exits 3; repo deliberately saves
// nothing and exits 1 (README, deviations). Root reads every file, so as root the commands run as `nobody`.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliEnv, type CliResult } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']; // setpriv (util-linux), as the fault-injection tests
const canSwitch =
  !isRoot ||
  spawnSync('setpriv', [...NOBODY, process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(CLI)})`])
    .status === 0;
const PASSWORD = 'unreadable test password';
let tmp: string;
let repo: string;

/** Runs `argv` as this user, or as nobody when root. */
function runAs(argv: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const [file, args] = isRoot ? ['setpriv', [...NOBODY, ...argv]] : [argv[0], argv.slice(1)];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      resolve({ code, signal, stdout, out: stdout.toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}
const repoCli = (args: string[]) =>
  runAs(
    [process.execPath, CLI, '-r', repo, ...args],
    cliEnv(PASSWORD, { HOME: tmp, REPO_CACHE_DIR: path.join(tmp, 'cache') }),
  );

/** A world-accessible directory holding `files`; those named in `unreadable` get mode 000. */
function source(name: string, files: string[], unreadable: string[]): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { mode: 0o777 });
  fs.chmodSync(dir, 0o777);
  for (const f of files) fs.writeFileSync(path.join(dir, f), `contents of ${f}\n`, { mode: 0o644 });
  for (const f of unreadable) fs.chmodSync(path.join(dir, f), 0o000);
  if (isRoot) spawnSync('chown', ['-R', '65534:65534', dir]);
  return dir;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync('/tmp/repo-e2e-unreadable-');
  fs.chmodSync(tmp, 0o777);
  repo = path.join(tmp, 'repo');
  if (canSwitch) expect((await repoCli(['init'])).code).toBe(0);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!canSwitch)('unreadable source files', () => {
  const count = async () => JSON.parse((await repoCli(['--json', 'snapshots'])).out).length as number;

  it('some unreadable: snapshot saved without them, each listed, exit 3', async () => {
    const dir = source('mixed', ['ok.txt', 'secret.txt'], ['secret.txt']);
    const before = await count();
    const r = await repoCli(['--json', 'backup', dir]);
    expect(r.code, r.stderr).toBe(3);
    // Under --json each unreadable file is restic's error line on stderr.
    expect(r.stderr).toMatch(
      /^\{"message_type":"error","error":\{"message":"cannot open: permission denied"\},"during":"archival","item":".*secret\.txt"\}$/m,
    );
    expect(await count()).toBe(before + 1);
  });

  it('none readable: no snapshot, exit 1, the message says so and names a file; restic 0.14 saves an empty one (exit 3)', async () => {
    const dir = source('none', ['a.txt', 'b.txt'], ['a.txt', 'b.txt']);
    const before = await count();
    const r = await repoCli(['backup', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^repo: no source file could be read \(2 skipped; first .*a\.txt: cannot open: permission denied\); no snapshot was saved$/m,
    );
    expect(await count()).toBe(before);

    const resticEnv = {
      PATH: process.env.PATH,
      HOME: tmp,
      RESTIC_PASSWORD: PASSWORD,
      RESTIC_REPOSITORY: path.join(tmp, 'restic'),
      RESTIC_CACHE_DIR: path.join(tmp, 'restic-cache'),
    };
    if (!fs.existsSync('/usr/bin/restic')) return;
    expect((await runAs(['restic', 'init'], resticEnv)).code).toBe(0);
    expect((await runAs(['restic', 'backup', dir], resticEnv)).code).toBe(3);
    expect(JSON.parse((await runAs(['restic', 'snapshots', '--json'], resticEnv)).out)).toHaveLength(1);
  });
});
