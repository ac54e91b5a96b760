// The global --config and --profile options on every command, before or after the subcommand: the profile
// gives repository, password source, env / env-file and cache settings; flags still win; --print-systemd
// writes the profile's variables as Environment= / EnvironmentFile=.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

let dir: string;
const env = () => ({
  REPO_STATE_DIR: path.join(dir, 'state'),
  REPO_CACHE_DIR: path.join(dir, 'cache'),
  REPO_PASSWORD: undefined,
  REPO_CONFIG: undefined,
});
const cli = (args: string[], cwd = dir) => runCli(args, { cwd, env: env() });

beforeAll(async () => {
  dir = tempDir('repo-profile-opt-');
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'profile data\n');
  fs.writeFileSync(path.join(dir, 'pass'), 'profile password\n', { mode: 0o600 });
  fs.writeFileSync(
    path.join(dir, 'secrets.env'),
    '# S3 credentials\nexport SECRET_X="from file"\nFOO_TEST=overridden\n',
    { mode: 0o600 },
  );
  fs.writeFileSync(path.join(dir, 'open.env'), 'A=1\n', { mode: 0o644 });
  fs.writeFileSync(
    path.join(dir, 'repo.yaml'),
    `profiles:
  home:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
    env: { FOO_TEST: bar }
    env-file: ./secrets.env
    schedule: "0 3 * * *"
    objectives: { rpo: 1d }
  leaky:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
    env-file: ./open.env
`,
  );
  const init = await runCli(['-r', path.join(dir, 'repo'), 'init'], {
    cwd: dir,
    env: { ...env(), REPO_PASSWORD: 'profile password' },
  });
  expect(init.code, init.stderr).toBe(0);
}, 60_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('--profile and --config on every command', () => {
  it('takes repository and password from the profile, the option before or after the subcommand', async () => {
    const b = await cli(['backup', path.join(dir, 'src'), '--profile', 'home']);
    expect(b.code, b.stderr).toBe(0);
    const before = await cli(['--profile', 'home', '--json', 'snapshots']);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.out)).toHaveLength(1);
    // from another directory, with --config after the subcommand
    const elsewhere = await cli(
      ['snapshots', '--json', '--config', path.join(dir, 'repo.yaml'), '--profile', 'home'],
      path.dirname(dir),
    );
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(JSON.parse(elsewhere.out)).toHaveLength(1);
    const ls = await cli(['ls', 'latest', '--profile', 'home']);
    expect(ls.out).toContain('a.txt');
  });

  it("applies the profile's env-file and env (env wins) to the process and its children", async () => {
    const b = await cli([
      '--profile',
      'home',
      'backup',
      '--stdin-filename',
      'env.txt',
      '--stdin-from-command',
      '--',
      'sh',
      '-c',
      'echo "$FOO_TEST/$SECRET_X"',
    ]);
    expect(b.code, b.stderr).toBe(0);
    const d = await cli(['--profile', 'home', 'dump', 'latest', '/env.txt']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.out).toBe('bar/from file\n');
  });

  it('lets flags win over the profile, and refuses an env-file others can read', async () => {
    const other = await cli(['--profile', 'home', '-r', path.join(dir, 'nowhere'), 'snapshots']);
    expect(other.code).toBe(10); // the flag's repository, which does not exist
    const leaky = await cli(['--profile', 'leaky', 'snapshots']);
    expect(leaky.code).toBe(1);
    expect(leaky.stderr).toMatch(
      /env-file .*open\.env of profile leaky is readable by others: it holds secrets, so chmod 600 it/,
    );
    const unknown = await cli(['--profile', 'nope', 'snapshots']);
    expect(unknown.stderr).toMatch(/no profile "nope" in .*repo\.yaml; profiles: home, leaky/);
  });

  it('selects the profile for status, run and log, and writes its variables into systemd units', async () => {
    const st = await cli(['status', '--profile', 'home']);
    expect(st.code, st.out + st.stderr).toBe(0);
    expect(st.out).toMatch(/profile home/);
    expect(st.out).not.toMatch(/leaky/);
    const log = await cli(['log', '--profile', 'home']);
    expect(log.code, log.stderr).toBe(0);
    const units = await cli(['--profile', 'home', 'schedule', '--print-systemd']);
    expect(units.code, units.stderr).toBe(0);
    expect(units.out).toContain(`EnvironmentFile=${path.join(dir, 'secrets.env')}`);
    expect(units.out).toContain('Environment=FOO_TEST=bar');
  });

  it('publishes the repo.yaml schema for editors (repo generate --config-schema)', async () => {
    const r = await cli(['generate', '--config-schema', '-']);
    expect(r.code, r.stderr).toBe(0);
    const schema = JSON.parse(r.out);
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.properties.profiles.additionalProperties.properties['env-file'].description).toMatch(/0600/);
  });
});
