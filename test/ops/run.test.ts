// `repo run`, `repo status` and `repo schedule` end to end through the CLI, with a real HTTP server on
// loopback receiving the healthcheck pings and webhook calls.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';
import { pingPaths, pingServer } from './helpers.js';

let server: Awaited<ReturnType<typeof pingServer>>;
beforeAll(async () => {
  server = await pingServer();
});
afterAll(async () => {
  await server.close();
});

/** A directory with a repository, a source tree, a password file and a repo.yaml built from `profile`. */
async function setup(profile: (d: string) => string) {
  const dir = tempDir('repo-ops-');
  const env = {
    REPO_STATE_DIR: path.join(dir, 'state'),
    REPO_CACHE_DIR: path.join(dir, 'cache'),
    REPO_PASSWORD: undefined,
  };
  fs.writeFileSync(path.join(dir, 'pass'), 'ops password\n', { mode: 0o600 });
  fs.mkdirSync(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'hello\n'.repeat(1000));
  fs.writeFileSync(path.join(dir, 'src', 'b.tmp'), 'scratch');
  expect(
    (
      await runCli(['-r', path.join(dir, 'repo'), 'init'], {
        password: 'ops password',
        env: { ...env, REPO_PASSWORD: 'ops password' },
      })
    ).code,
  ).toBe(0);
  fs.writeFileSync(path.join(dir, 'repo.yaml'), `profiles:\n${profile(dir)}`);
  const cli = (...args: string[]) => runCli(args, { cwd: dir, env });
  return { dir, env, cli };
}

describe('repo run', () => {
  it('a failing before hook skips the backup, fails the job, runs on-failure and pings the failure', async () => {
    server.pings.length = 0;
    const { dir, cli } = await setup(
      (d) => `  home:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
    hooks:
      before: ["echo checking mounts", "echo mount missing >&2; exit 3"]
      on-failure: ["echo $REPO_ERROR > ${d}/on-failure.txt"]
      finally: ["echo $REPO_JOB_STATUS > ${d}/finally.txt"]
    monitoring: { healthcheck: "${server.url}/ping/abc-123", webhook: "${server.url}/hook" }
`,
    );
    const r = await cli('run', 'home');
    expect(r.code).toBe(1);
    expect(r.out).toContain('mount missing');
    expect(fs.readFileSync(path.join(dir, 'on-failure.txt'), 'utf8')).toMatch(
      /before hook "echo mount missing >&2; exit 3" exited with code 3/,
    );
    expect(fs.readFileSync(path.join(dir, 'finally.txt'), 'utf8').trim()).toBe('failure');
    const hc = server.pings.filter((p) => p.path.startsWith('/ping/'));
    expect(pingPaths(hc)).toEqual(['/ping/abc-123/start', '/ping/abc-123/fail']);
    expect(hc[1].body).toContain('mount missing'); // the tail of the log
    expect(hc[1].body).toContain('status: failure');
    const rid = new URL(hc[0].path, server.url).searchParams.get('rid');
    expect(rid).toMatch(/^[0-9a-f-]{36}$/);
    expect(new URL(hc[1].path, server.url).searchParams.get('rid')).toBe(rid);
    const hooks = server.pings.filter((p) => p.path === '/hook').map((p) => JSON.parse(p.body));
    expect(hooks.map((h) => h.event)).toEqual(['start', 'failure']);
    expect(hooks[1]).toMatchObject({ profile: 'home', status: 'failure', exit_code: 1 });
    // nothing was backed up
    expect(fs.readdirSync(path.join(dir, 'repo', 'snapshots')).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('a failing dump fails the job and pings the failure; the file backup still happens', async () => {
    server.pings.length = 0;
    const { cli } = await setup(
      () => `  mixed:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
    databases:
      - { type: sqlite, name: ./app.db, command: ["sh", "-c", "echo 'CREATE TABLE t(x);'; echo 'dump: disk I/O error' >&2; exit 2"] }
    retention: { keep-last: 3 }
    monitoring: { healthcheck: "${server.url}/ping/db" }
`,
    );
    const r = await cli('--json', 'run', 'mixed');
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(summary.jobs[0].status).toBe('failure');
    const steps = summary.jobs[0].steps as { step: string; status: string; message?: string }[];
    expect(steps.find((s) => s.step === 'backup')?.status).toBe('ok');
    expect(steps.find((s) => s.step.startsWith('dump'))).toMatchObject({ status: 'failed' });
    expect(steps.find((s) => s.step.startsWith('dump'))!.message).toMatch(/exited with code 2.*disk I\/O error/);
    expect(steps.some((s) => s.step === 'forget')).toBe(false); // no retention after a failed backup
    expect(pingPaths(server.pings)).toEqual(['/ping/db/start', '/ping/db/fail']);
    expect(server.pings[1].body).toContain('disk I/O error');
    const snaps = JSON.parse((await cli('--json', '-r', 'repo', '--password-file', 'pass', 'snapshots')).out);
    expect(snaps.map((s: { paths: string[] }) => s.paths.length)).toEqual([1]); // the files; no half dump
  });

  it("keeps repo backup's directory cache, so an unchanged tree's directories are not read from the parent", async () => {
    const { dir, cli } = await setup(
      () => `  home:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
`,
    );
    const snapshotIds = async () =>
      (
        JSON.parse((await cli('--json', '-r', 'repo', '--password-file', 'pass', 'snapshots')).out) as {
          id: string;
        }[]
      ).map((s) => s.id);
    expect((await cli('run', 'home')).code).toBe(0);
    const [first] = await snapshotIds();
    const repoId = (
      JSON.parse((await cli('--json', '-r', 'repo', '--password-file', 'pass', 'cat', 'config')).out) as { id: string }
    ).id;
    const records = path.join(dir, 'cache', repoId, 'dirs');
    expect(fs.readdirSync(records)).toEqual([first]);
    // The next run starts from that record, and leaves its own in its place.
    expect((await cli('run', 'home')).code).toBe(0);
    const second = (await snapshotIds()).find((id) => id !== first)!;
    expect(fs.readdirSync(records)).toEqual([second]);
    // A profile without a cache keeps none.
    fs.rmSync(records, { recursive: true });
    fs.appendFileSync(path.join(dir, 'repo.yaml'), '    no-cache: true\n');
    expect((await cli('run', 'home')).code).toBe(0);
    expect(fs.existsSync(records)).toBe(false);
  });

  it('backs up, applies retention, copies offsite, checks when due, pings success; status is truthful', async () => {
    server.pings.length = 0;
    const { dir, cli } = await setup(
      () => `  home:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
    exclude: ["*.tmp"]
    tags: [home]
    retention: { keep-last: 2 }
    objectives: { rpo: 1h, rto: 4h }
    copy-to: ["./offsite"]
    check: { read-data-subset: 100%, every: 7d }
    monitoring: { healthcheck: "${server.url}/ping/home" }
`,
    );
    expect(
      (
        await runCli(['-r', path.join(dir, 'offsite'), 'init'], {
          password: 'ops password',
          env: { REPO_STATE_DIR: path.join(dir, 'state') },
        })
      ).code,
    ).toBe(0);
    // Before any backup the RPO (and the RTO: nothing measured) are missed.
    const before = await cli('status', 'home');
    expect(before.code).toBe(2);
    expect(before.out).toMatch(/MISSED +RPO/);
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(dir, 'src', 'a.txt'), `version ${i}\n`);
      const r = await cli('run', 'home');
      expect(r.code, r.out + r.stderr).toBe(0);
      if (i === 0) expect(r.out).toContain('check: due (never checked)');
      else expect(r.out).not.toContain('check: due');
    }
    expect(pingPaths(server.pings)).toEqual(Array(3).fill(['/ping/home/start', '/ping/home']).flat());
    const list = async (repo: string) =>
      JSON.parse((await cli('--json', '-r', repo, '--password-file', 'pass', 'snapshots')).out) as {
        paths: string[];
        tags: string[];
      }[];
    expect((await list('repo')).length).toBe(2); // keep-last 2
    expect((await list('offsite')).length).toBe(2); // copied, and the retention applied there too
    expect((await list('repo'))[0].tags).toEqual(['home']);
    const ls = await cli('-r', 'repo', '--password-file', 'pass', 'ls', 'latest');
    expect(ls.out).toContain('a.txt');
    expect(ls.out).not.toContain('b.tmp');

    const st = await cli('status', 'home', '--metrics-file', 'metrics.prom');
    expect(st.code, st.out).toBe(0);
    expect(st.out).toMatch(/met +RPO/);
    expect(st.out).toMatch(/met +RTO +full restore estimated/);
    const metrics = fs.readFileSync(path.join(dir, 'metrics.prom'), 'utf8');
    expect(metrics).toMatch(/^repo_objectives_met\{profile="home",repository="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^repo_last_success_timestamp_seconds\{profile="home",.*\} \d+(\.\d+)?$/m);
    expect(metrics).toMatch(/^repo_last_run_duration_seconds\{/m);
    expect(metrics).toMatch(/^repo_last_run_added_bytes\{/m);
    expect(metrics).toMatch(/^repo_repository_size_bytes\{.*\} \d+$/m);
    expect(metrics).toMatch(/^repo_dedupe_ratio\{/m);
    expect(metrics).toMatch(/^# TYPE repo_estimated_restore_seconds gauge$/m);
    const json = JSON.parse((await cli('--json', 'status')).out);
    expect(json.ok).toBe(true);
    expect(json.profiles[0].objectives.map((o: { objective: string; met: boolean }) => [o.objective, o.met])).toEqual([
      ['rpo', true],
      ['check', true],
      ['rto', true],
    ]);

    // An objective the backups cannot meet: a profile whose newest snapshot is older than its RPO.
    fs.appendFileSync(
      path.join(dir, 'repo.yaml'),
      `  stale:
    repository: ./repo
    password-file: ./pass
    sources: [./old]
    objectives: { rpo: 1d }
`,
    );
    fs.mkdirSync(path.join(dir, 'old'));
    expect(
      (
        await cli(
          '-r',
          'repo',
          '--password-file',
          'pass',
          'backup',
          '--time',
          '2020-01-01 00:00:00',
          path.join(dir, 'old'),
        )
      ).code,
    ).toBe(0);
    const missed = await cli('status');
    expect(missed.code).toBe(2);
    expect(missed.out).toMatch(/profile home .*: OK/);
    expect(missed.out).toMatch(/profile stale .*: NOT OK\n +MISSED +RPO +newest backup is \d+d/);
    expect((await cli('status', 'home')).code).toBe(0);
  });
});

describe('repo schedule', () => {
  it('catches up a missed run at start and stops cleanly on SIGTERM, aborting the running job', async () => {
    server.pings.length = 0;
    const { dir, env, cli } = await setup(
      (d) => `  slow:
    repository: ./repo
    password-file: ./pass
    sources: [./src]
    schedule: "*/5 * * * *"
    hooks: { before: ["touch ${d}/started; sleep 30"] }
    monitoring: { healthcheck: "${server.url}/ping/slow" }
`,
    );
    // The daemon last ran this profile a day ago: the missed run is caught up at once (once).
    fs.mkdirSync(env.REPO_STATE_DIR, { recursive: true });
    fs.writeFileSync(
      path.join(env.REPO_STATE_DIR, 'schedule.json'),
      JSON.stringify({ slow: { lastSlot: new Date(Date.now() - 86_400_000).toISOString() } }),
    );
    let pid = 0;
    const t0 = Date.now();
    const done = runCli(['schedule'], { cwd: dir, env, onSpawn: (p) => (pid = p) });
    while (!fs.existsSync(path.join(dir, 'started'))) {
      if (Date.now() - t0 > 20_000) throw new Error('the catch-up job did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(pid, 'SIGTERM');
    const r = await done;
    expect(r.code, r.out + r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20_000); // did not wait for the 30 s hook
    expect(r.out).toMatch(/profile slow: starting \(catching up the run due at/);
    expect(r.out).toMatch(/profile slow: interrupted/);
    expect(r.out).toMatch(/repo schedule: stopped/);
    expect(pingPaths(server.pings)).toEqual(['/ping/slow/start', '/ping/slow/fail']);
    const state = JSON.parse(fs.readFileSync(path.join(env.REPO_STATE_DIR, 'schedule.json'), 'utf8'));
    expect(state.slow.lastStatus).toBe('interrupted');
    expect(Date.parse(state.slow.lastSlot)).toBeGreaterThan(Date.now() - 6 * 60_000);
    void cli;
  });
});
