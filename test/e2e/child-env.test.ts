// No secrets in children (issue 14 item 7): every process repo starts (--stdin-from-command, --password-command,
// hooks, database dumps) gets an environment without the repository password variables; other variables stay.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, PASSWORD_VARIABLES } from '../../src/core/child-env.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

const SECRET = 'pw-7f3a-do-not-leak';
let tmp: string;
let repo: string;
beforeAll(async () => {
  tmp = tempDir('repo-e2e-childenv-');
  repo = path.join(tmp, 'repo');
  expect((await runCli(['-r', repo, 'init'], { password: SECRET })).code).toBe(0);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every name=value line of an `env` dump that mentions the secret or a password variable. */
function leaks(text: string): string[] {
  return text.split('\n').filter((l) => l.includes(SECRET) || PASSWORD_VARIABLES.some((v) => l.startsWith(`${v}=`)));
}

describe('child environments', () => {
  it('childEnv drops exactly the password variables', () => {
    const base = {
      PATH: '/bin',
      REPO_PASSWORD: 'a',
      REPO_PASSWORD_FILE: '/f',
      REPO_PASSWORD_COMMAND: 'c',
      REPO_FROM_PASSWORD: 'b',
      AWS_SECRET_ACCESS_KEY: 's3',
      REPO_REPOSITORY: '/r',
    };
    expect(childEnv(base, { EXTRA: '1' })).toEqual({
      PATH: '/bin',
      AWS_SECRET_ACCESS_KEY: 's3',
      REPO_REPOSITORY: '/r',
      EXTRA: '1',
    });
    expect(base.REPO_PASSWORD).toBe('a'); // the caller's object is untouched
  });

  it('backup --stdin-from-command -- env does not capture the password (but keeps other variables)', async () => {
    const r = await runCli(['-r', repo, 'backup', '--stdin-from-command', '--stdin-filename', 'env.txt', '--', 'env'], {
      password: SECRET,
      env: { REPO_PASSWORD_COMMAND: undefined, MARKER_VARIABLE: 'kept' },
    });
    expect(r.code, r.stderr).toBe(0);
    const dumped = await runCli(['-r', repo, 'dump', 'latest', '/env.txt'], { password: SECRET });
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.out).toContain('MARKER_VARIABLE=kept');
    expect(dumped.out).toMatch(/^PATH=/m);
    expect(leaks(dumped.out)).toEqual([]);
  });

  it('the --password-command itself does not see REPO_PASSWORD or its own variable', async () => {
    const out = path.join(tmp, 'pwcmd-env.txt');
    const r = await runCli(['-r', repo, '--password-command', `env > ${out}; echo ${SECRET}`, 'snapshots'], {
      password: 'stale value in REPO_PASSWORD ' + SECRET,
    });
    expect(r.code, r.stderr).toBe(0);
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toMatch(/^PATH=/m);
    expect(leaks(text)).toEqual([]);
  });

  it('hooks and database dump commands of `repo run` do not see the password variables', async () => {
    const dir = path.join(tmp, 'ops');
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'a\n');
    fs.writeFileSync(path.join(dir, 'pass'), `${SECRET}\n`, { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, 'repo.yaml'),
      `profiles:
  home:
    repository: ${repo}
    password-file: ./pass
    sources: [./src]
    hooks: { before: ["env > ${dir}/hook-env.txt"] }
    databases:
      - { type: sqlite, name: ./app.db, command: ["env"] }
`,
    );
    const r = await runCli(['run', 'home'], {
      cwd: dir,
      password: SECRET, // REPO_PASSWORD is set in repo's own environment too
      env: {
        REPO_PASSWORD_FILE: path.join(dir, 'pass'),
        REPO_STATE_DIR: path.join(dir, 'state'),
        REPO_CACHE_DIR: path.join(dir, 'cache'),
      },
    });
    expect(r.code, r.stderr + r.out).toBe(0);
    const hook = fs.readFileSync(path.join(dir, 'hook-env.txt'), 'utf8');
    expect(hook).toMatch(/^REPO_PROFILE=home$/m);
    expect(leaks(hook)).toEqual([]);
    const snaps = JSON.parse((await runCli(['-r', repo, '--json', 'snapshots'], { password: SECRET })).out) as {
      id: string;
      paths: string[];
    }[];
    const dumpSnap = snaps.find((s) => s.paths.some((p) => p.endsWith('.sql') || p.includes('app')))!;
    expect(dumpSnap, JSON.stringify(snaps)).toBeDefined();
    const ls = await runCli(['-r', repo, '--json', 'ls', dumpSnap.id], { password: SECRET });
    const file = ls.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((n) => n.type === 'file');
    const dumped = await runCli(['-r', repo, 'dump', dumpSnap.id, file.path], { password: SECRET });
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.out).toMatch(/^PATH=/m);
    expect(leaks(dumped.out)).toEqual([]);
  });
});
