// End-to-end tests of check, repair, forget, prune and locking through the built CLI.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';

let tmp: string;
let repo: string;
let src: string;
const run = (args: string[]) => runCli(['-r', repo, ...args], { cwd: tmp });
async function ok(args: string[]): Promise<CliResult> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
const json = (r: CliResult) => lastJson(r.out);
function du(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  return n;
}

beforeAll(async () => {
  tmp = tempDir('repo-e2e-maint-');
  repo = path.join(tmp, 'repo');
  src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  await ok(['init', '--chunker', '16K/64K/256K']);
  const rand = prng(3);
  // Five daily backups, each replacing a 1 MiB file.
  for (let day = 1; day <= 5; day++) {
    fs.writeFileSync(path.join(src, 'daily.bin'), randomBuffer(rand, 1 << 20));
    fs.writeFileSync(path.join(src, 'stable.txt'), 'stable\n');
    await ok(['backup', 'src', '--time', `2026-03-0${day} 12:00:00`, '--tag', day % 2 ? 'odd' : 'even']);
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('forget and prune', () => {
  it('forget --dry-run --json reports groups with keep, remove and reasons, and removes nothing', async () => {
    const groups = json(await ok(['--json', 'forget', '--keep-last', '2', '--keep-tag', 'odd', '--dry-run']));
    expect(groups).toHaveLength(1);
    expect(groups[0].keep.map((s: any) => s.time.slice(0, 10))).toEqual([
      '2026-03-05',
      '2026-03-04',
      '2026-03-03',
      '2026-03-01',
    ]);
    expect(groups[0].remove.map((s: any) => s.time.slice(0, 10))).toEqual(['2026-03-02']);
    expect(groups[0].reasons[0].matches).toEqual(['has tags [odd]', 'last snapshot']);
    expect(json(await ok(['--json', 'snapshots']))).toHaveLength(5);
  });

  it('an empty policy removes nothing and says so', async () => {
    const r = await ok(['forget']);
    expect(r.out).toMatch(/no policy was specified/);
    expect(json(await ok(['--json', 'snapshots']))).toHaveLength(5);
  });

  it('refuses a policy that would empty a group, as restic >= 0.17 does, unless --unsafe-allow-remove-all', async () => {
    const r = await run(['forget', '--keep-tag', 'typo']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^repo: refusing to delete last snapshot of snapshot group "host .*, path \[.*src\]": the policy keeps none of its 5 snapshots \(--unsafe-allow-remove-all allows it\)/,
    );
    expect(json(await ok(['--json', 'snapshots']))).toHaveLength(5);
    // Allowed, it would remove them all (dry run here: the next tests need the snapshots).
    const groups = json(await ok(['--json', 'forget', '--keep-tag', 'typo', '--unsafe-allow-remove-all', '--dry-run']));
    expect(groups[0].keep).toEqual([]);
    expect(groups[0].remove).toHaveLength(5);
    const all = json(await ok(['--json', 'forget', '--unsafe-allow-remove-all', '--dry-run']));
    expect(all[0].remove).toHaveLength(5);
    expect(json(await ok(['--json', 'snapshots']))).toHaveLength(5);
  });

  it('group keys write null for tags when the group has none or tags are not grouped by, as restic does', async () => {
    const byPaths = json(await ok(['--json', 'forget', '--keep-last', '9', '--dry-run']));
    expect(byPaths[0].tags).toBeNull();
    const byTags = json(await ok(['--json', 'forget', '--keep-last', '9', '--group-by', 'tags', '--dry-run']));
    expect(byTags.map((g: any) => g.tags)).toEqual([['even'], ['odd']]);
  });

  it('forget --prune frees the space of removed snapshots; check --read-data passes and the rest restores', async () => {
    const before = du(repo);
    await ok(['forget', '--keep-last', '1', '--prune', '--max-unused', '0%']);
    const after = du(repo);
    expect(before - after).toBeGreaterThan(3.5 * (1 << 20));
    expect(json(await ok(['--json', 'snapshots']))).toHaveLength(1);
    const check = json(await ok(['--json', 'check', '--read-data']));
    expect(check.ok).toBe(true);
    expect(check.read_data.estimated_restore_seconds).toBeGreaterThan(0);
    await ok(['restore', 'latest', '--target', path.join(tmp, 'out'), '--verify']);
    expect(
      fs.readFileSync(path.join(tmp, 'out/src/daily.bin')).equals(fs.readFileSync(path.join(src, 'daily.bin'))),
    ).toBe(true);
  });

  it('prune --dry-run --json reports a plan and changes nothing', async () => {
    const before = du(repo);
    const plan = json(await ok(['--json', 'prune', '--dry-run']));
    expect(plan.dry_run).toBe(true);
    expect(plan.packs_to_delete).toBe(0);
    expect(du(repo)).toBe(before);
  });

  it('a prune right after a prune has nothing to do: it says so, and writes and deletes nothing', async () => {
    // Every prune takes a lock (its file is gone afterwards); a prune with nothing to do appends no audit
    // entry (spec §14), so every file must stay as it is.
    const files = () =>
      fs
        .readdirSync(repo, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(repo, path.join(e.parentPath, e.name)))
        .filter((f) => !/^locks\//.test(f))
        .map((f) => `${f} ${fs.statSync(path.join(repo, f)).size}`)
        .sort();
    const before = files();
    // The previous test's forget --prune left one small data pack and one small tree pack, which a prune
    // used to "merge" into one small pack of each, on every run.
    for (let run = 0; run < 2; run++) {
      const r = await ok(['prune', '--max-unused', '5%']);
      expect(r.out).toMatch(/; 0 blobs \(0 B\) are unused\n/);
      expect(r.out).toMatch(/^nothing to do: no pack holds unused data/m);
      expect(r.out).not.toMatch(/repack|freed/);
      expect(files()).toEqual(before);
    }
    const summary = json(await ok(['--json', 'prune']));
    expect(summary).toMatchObject({
      message_type: 'prune_summary',
      nothing_to_do: true,
      packs_to_delete: 0,
      packs_to_repack: 0,
      packs_written: 0,
      bytes_unused: 0,
      bytes_freed: 0,
      bytes_unused_after: 0,
    });
    expect(files()).toEqual(before);
  });
});

describe('locks', () => {
  it('an exclusive operation is refused with exit 11 while another process holds a lock, naming the holder', async () => {
    // A stdin backup holds a shared lock while it waits for input.
    const { spawn } = await import('node:child_process');
    const { CLI, cliEnv } = await import('../helpers/cli.js');
    const child = spawn(process.execPath, [CLI, '-r', repo, 'backup', '--stdin', '--stdin-filename', 'slow'], {
      env: cliEnv('e2e correct horse'),
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    try {
      for (
        let i = 0;
        i < 100 && fs.readdirSync(path.join(repo, 'locks')).filter((f) => !f.startsWith('.')).length === 0;
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      const r = await run(['prune']);
      expect(r.code).toBe(11);
      expect(r.stderr).toMatch(/locked.*held by .*pid \d+/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      child.stdin.end('data\n');
      await new Promise((r) => child.on('close', r));
    }
    expect(fs.readdirSync(path.join(repo, 'locks')).filter((f) => !f.startsWith('.'))).toEqual([]);
    await ok(['prune', '--dry-run']);
  });
});

describe('check and repair', () => {
  it('check --read-data finds a flipped byte, names the pack and files; repair makes check pass again', async () => {
    const packs = fs
      .readdirSync(path.join(repo, 'data'), { recursive: true })
      .map(String)
      .filter((f) => /[0-9a-f]{64}$/.test(f));
    const sizes = packs
      .map((p) => [p, fs.statSync(path.join(repo, 'data', p)).size] as const)
      .sort((a, b) => b[1] - a[1]);
    const victim = path.join(repo, 'data', sizes[0][0]);
    const bytes = fs.readFileSync(victim);
    bytes[100] ^= 1;
    fs.writeFileSync(victim, bytes);

    expect((await run(['check'])).code).toBe(0); // structure is intact
    const bad = await run(['--json', 'check', '--read-data']);
    expect(bad.code).toBe(1);
    const report = json(bad);
    expect(report.problems.some((p: any) => p.pack === path.basename(victim))).toBe(true);
    expect(report.affected.length).toBeGreaterThan(0);
    const text = await run(['check', '--read-data']);
    expect(text.out).toContain(path.basename(victim));
    expect(text.out).toMatch(/affected files/);

    // A short id, as check prints and every other command takes; an unknown one fails with one line.
    const unknown = await run(['repair', 'packs', 'ffffffffff']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^repo: no pack with id ffffffffff/);
    await ok(['repair', 'packs', path.basename(victim).slice(0, 8)]);
    await ok(['repair', 'snapshots', '--forget']);
    const after = json(await ok(['--json', 'check', '--read-data']));
    expect(after.problems).toEqual([]);
  });

  it('repair index rebuilds a deleted index', async () => {
    for (const f of fs.readdirSync(path.join(repo, 'index'))) fs.rmSync(path.join(repo, 'index', f));
    expect((await run(['check'])).code).toBe(1);
    await ok(['repair', 'index']);
    expect(json(await ok(['--json', 'check', '--read-data'])).ok).toBe(true);
  });
});
