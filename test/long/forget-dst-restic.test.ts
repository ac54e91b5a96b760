// Differential test: restic 0.14 (Debian's /usr/bin/restic) and `repo` forget the same snapshots, dated around
// the daylight-saving changes of Europe/Berlin (TZ set for both), with --keep-within and --keep-within-daily
// durations whose cutoff crosses a change; the kept snapshots must be the same. restic moves the newest
// snapshot's wall clock by calendar days in the local zone (Go's AddDate), so "11d" before 12:00 CEST just
// after the spring change is 12:00 CET, 263 h earlier, not 264 h; a fixed-offset computation keeps one more.
// In test/long: about 30 backups by two programs.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

const RESTIC = '/usr/bin/restic';
const haveRestic = fs.existsSync(RESTIC);
const TZ = 'Europe/Berlin';
const PASSWORD = 'differential forget';

// host → local times (Europe/Berlin) of its snapshots; the first is the newest.
const HOSTS: Record<string, string[]> = {
  // spring change 2024-03-31 02:00 CET → 03:00 CEST; newest in CEST, cutoffs in CET
  spring: [
    '2024-04-10 12:00:00',
    '2024-03-30 11:30:00',
    '2024-03-30 12:00:00',
    '2024-03-30 12:30:00',
    '2024-03-29 11:30:00',
    '2024-03-29 12:30:00',
    '2024-03-10 11:30:00',
    '2024-03-10 12:30:00',
  ],
  // 10 days before 02:30 CEST is 2024-03-31 02:30, which the change skips: Go takes 03:30 CEST
  gap: [
    '2024-04-10 02:30:00',
    '2024-03-31 01:50:00',
    '2024-03-31 03:25:00',
    '2024-03-31 03:35:00',
    '2024-03-30 02:30:00',
  ],
  // autumn change 2024-10-27 03:00 CEST → 02:00 CET; newest in CET, cutoffs in CEST
  autumn: [
    '2024-11-05 12:00:00',
    '2024-10-26 11:30:00',
    '2024-10-26 12:30:00',
    '2024-10-25 11:30:00',
    '2024-10-25 12:30:00',
    '2024-10-05 11:30:00',
    '2024-10-05 12:30:00',
  ],
};
const POLICIES = [
  ['--keep-within', '11d'],
  ['--keep-within', '10d'],
  ['--keep-within', '12d'],
  ['--keep-within', '1m'],
  ['--keep-within', '1m5d'],
  ['--keep-within', '10d12h'],
  ['--keep-within-daily', '12d'],
  ['--keep-within-daily', '11d'],
  ['--keep-within', '1y'],
];

let work: string;
let resticRepo: string;
let repoRepo: string;
let src: string;

function restic(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      RESTIC,
      ['-r', resticRepo, '--no-cache', ...args],
      { env: { ...process.env, TZ, RESTIC_PASSWORD: PASSWORD }, maxBuffer: 1 << 26 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`restic ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

async function repo(args: string[]): Promise<string> {
  const r = await runCli(['-r', repoRepo, ...args], { password: PASSWORD, env: { TZ }, cwd: work });
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.out;
}

/** host → kept snapshot instants (ms), sorted, from forget --json of either program. */
function kept(out: string): Record<string, number[]> {
  const groups = JSON.parse(out) as { host: string; keep: { time: string }[] }[];
  return Object.fromEntries(groups.map((g) => [g.host, g.keep.map((s) => Date.parse(s.time)).sort((a, b) => a - b)]));
}

beforeAll(async () => {
  if (!haveRestic) return;
  work = tempDir('repo-forget-dst-');
  resticRepo = path.join(work, 'restic');
  repoRepo = path.join(work, 'repo');
  src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'f.txt'), 'same content for every snapshot\n');
  await restic(['init']);
  await repo(['init']);
  for (const [host, times] of Object.entries(HOSTS)) {
    for (const t of times) {
      await restic(['backup', '--host', host, '--time', t, src]);
      await repo(['backup', '--host', host, '--time', t, src]);
    }
  }
}, 300_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!haveRestic)('forget --keep-within across daylight-saving changes, against restic 0.14', () => {
  it('both programs stored the same snapshot instants', async () => {
    const times = (out: string) =>
      (JSON.parse(out) as { time: string }[]).map((s) => Date.parse(s.time)).sort((a, b) => a - b);
    const want = Object.values(HOSTS).flat().length;
    const r = times(await restic(['snapshots', '--json']));
    expect(r).toHaveLength(want);
    expect(times(await repo(['--json', 'snapshots']))).toEqual(r);
  });

  it.each(POLICIES)('%s %s keeps the same snapshots of every group', async (flag, value) => {
    const args = ['forget', '--dry-run', '--group-by', 'host', flag, value];
    const fromRestic = kept(await restic([...args, '--json']));
    const fromRepo = kept(await repo(['--json', ...args]));
    expect(fromRepo).toEqual(fromRestic);
  });

  it('the cases differ from a fixed-offset computation (the test can fail)', async () => {
    // 11d before 2024-04-10 12:00 CEST is 2024-03-30 12:00 CET: 11:30 CET is out; with +02:00 kept it would be in.
    const k = kept(await repo(['--json', 'forget', '--dry-run', '--group-by', 'host', '--keep-within', '11d']));
    expect(k.spring).not.toContain(Date.parse('2024-03-30T11:30:00+01:00'));
    expect(k.spring).toContain(Date.parse('2024-03-30T12:30:00+01:00'));
    // the gap: 10d before 02:30 CEST on 04-10 is 03:30 CEST on 03-31 (Go's choice), so 03:25 is out and 03:35 in
    const g = kept(await repo(['--json', 'forget', '--dry-run', '--group-by', 'host', '--keep-within', '10d']));
    expect(g.gap).not.toContain(Date.parse('2024-03-31T03:25:00+02:00'));
    expect(g.gap).toContain(Date.parse('2024-03-31T03:35:00+02:00'));
  });
});
