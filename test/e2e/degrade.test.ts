// Degrade, don't block (issue 14 item 4): a flipped byte in one key, index or snapshot file must cost only what that
// file alone holds, and every message names the damaged file and the command that repairs it.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

let tmp: string;
let pristine: string; // a repository with 3 snapshots and 3 index files, copied for each case
let src: string;
const indexOf: string[] = []; // index file written by backup i
const snapshotOf: string[] = []; // snapshot id of backup i

const run = (repo: string, args: string[]) => runCli(['-r', repo, ...args], { cwd: tmp });
async function ok(repo: string, args: string[]): Promise<CliResult> {
  const r = await run(repo, args);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
const names = (repo: string, dir: string) =>
  fs
    .readdirSync(path.join(repo, dir))
    .filter((n) => /^[0-9a-f]{64}$/.test(n))
    .sort();
let cases = 0;
function copyRepo(): string {
  const dst = path.join(tmp, `case-${cases++}`);
  fs.cpSync(pristine, dst, { recursive: true });
  return dst;
}
/** Flips one bit of the byte at `at` in place (the file keeps its name, as on a failing disk). */
function flip(file: string, at: number, mask = 0x01): void {
  const b = fs.readFileSync(file);
  b[at] ^= mask;
  fs.chmodSync(file, 0o600);
  fs.writeFileSync(file, b);
}

beforeAll(async () => {
  tmp = tempDir('repo-e2e-degrade-');
  pristine = path.join(tmp, 'pristine');
  src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  await ok(pristine, ['init']);
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(src, `file-${i}.txt`), `contents of backup ${i}\n`.repeat(100 + i));
    const before = new Set(names(pristine, 'index'));
    const r = lastJson((await ok(pristine, ['--json', 'backup', src, '--time', `2026-05-0${i + 1} 10:00:00`])).out);
    snapshotOf.push(r.snapshot_id);
    indexOf.push(names(pristine, 'index').filter((n) => !before.has(n))[0]);
  }
  expect(new Set(indexOf).size).toBe(3);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a damaged key file', () => {
  // One case per member of the only key file: the byte flipped is inside the member's value.
  const members = ['version', 'kdf', 'N', 'r', 'p', 'salt', 'created', 'hostname', 'username', 'data'] as const;
  const outcome: Record<string, boolean> = {};

  function valueOffset(text: string, member: string): number {
    const m = new RegExp(`"${member}":\\s*"?`).exec(text)!;
    const start = m.index + m[0].length;
    return member === 'salt' || member === 'data' ? start + 10 : start; // inside base64, or the value's first byte
  }

  it.each(members)(
    'a flipped byte in %s: the repository opens if the master key can still be authenticated, and check names the file',
    async (member) => {
      const repo = copyRepo();
      const [key] = names(repo, 'keys');
      const file = path.join(repo, 'keys', key);
      flip(file, valueOffset(fs.readFileSync(file, 'latin1'), member));
      const r = await run(repo, ['--json', 'snapshots']);
      outcome[member] = r.code === 0;
      if (r.code === 0) {
        expect(JSON.parse(r.out)).toHaveLength(3);
        expect(r.stderr).toContain(`keys/${key}`);
        expect(r.stderr).toMatch(/repo key add/);
        const restored = path.join(repo + '-restore');
        await ok(repo, ['restore', `${snapshotOf[2]}:${tmp}`, '--target', restored]); // the target gets src/ (full paths, spec §10)
        expect(fs.readFileSync(path.join(restored, 'src', 'file-2.txt'), 'utf8')).toBe(
          fs.readFileSync(path.join(src, 'file-2.txt'), 'utf8'),
        );
      } else {
        expect(r.stderr).toContain(`keys/${key}`);
        expect(r.stderr).toMatch(/damaged/);
        expect(r.stderr).not.toMatch(/^repo: wrong password/m);
      }
      const c = await run(repo, ['--json', 'check']);
      if (r.code === 0) {
        expect(c.code).toBe(1);
        expect(JSON.parse(c.out).problems).toEqual([expect.objectContaining({ kind: 'key', file: `keys/${key}` })]);
      }
    },
  );

  it('survives every member but the salt (which cannot be guessed)', () => {
    expect(Object.keys(outcome)).toHaveLength(members.length);
    expect(
      Object.entries(outcome)
        .filter(([, v]) => !v)
        .map(([k]) => k),
    ).toEqual(['salt']);
  });

  it('a flip that breaks the JSON (a quote of hostname) or makes it invalid UTF-8 still opens', async () => {
    for (const [mask, where] of [
      [0x02, (t: string) => t.indexOf('"hostname"') + 10], // ':' → '8': JSON syntax error
      [0x80, (t: string) => t.indexOf('"username"') + 13], // a byte that is not UTF-8
    ] as const) {
      const repo = copyRepo();
      const [key] = names(repo, 'keys');
      const file = path.join(repo, 'keys', key);
      flip(file, where(fs.readFileSync(file, 'latin1')), mask);
      const r = await run(repo, ['--json', 'snapshots']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.out)).toHaveLength(3);
      expect(r.stderr).toContain(`keys/${key}`);
    }
  });

  it('a wrong password is still reported as one (exit 12) when the key file is intact', async () => {
    const r = await runCli(['-r', pristine, 'snapshots'], { password: 'not the password' });
    expect(r.code).toBe(12);
  });
});

describe('one damaged index file of three', () => {
  let repo: string;
  beforeAll(() => {
    repo = copyRepo();
    flip(path.join(repo, 'index', indexOf[2]), 100);
  });

  it('snapshots and ls work; ls warns naming the file and repair index', async () => {
    expect(JSON.parse((await ok(repo, ['--json', 'snapshots'])).out)).toHaveLength(3);
    const ls = await ok(repo, ['ls', snapshotOf[0]]);
    expect(ls.out).toContain('file-0.txt');
    expect(ls.stderr).toContain(`index/${indexOf[2]}`);
    expect(ls.stderr).toContain('repo repair index');
  });

  it('a restore whose blobs other index files list works, with a warning naming the file and "repair index"', async () => {
    const r = await ok(repo, ['restore', `${snapshotOf[0]}:${tmp}`, '--target', path.join(tmp, 'idx-r0')]);
    expect(r.stderr).toContain(`index/${indexOf[2]}`);
    expect(r.stderr).toContain('repo repair index');
    expect(fs.readFileSync(path.join(tmp, 'idx-r0', 'src', 'file-0.txt'), 'utf8')).toBe(
      fs.readFileSync(path.join(src, 'file-0.txt'), 'utf8'),
    );
  });

  it('a restore needing a blob only that file listed fails naming "repair index"', async () => {
    const r = await run(repo, ['restore', `${snapshotOf[2]}:${tmp}`, '--target', path.join(tmp, 'idx-r2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not in the index/);
    expect(r.stderr.split('\n').filter((l) => l.includes('repo repair index')).length).toBeGreaterThanOrEqual(2); // at open and at the failure
  });

  it('prune refuses to delete anything and names the repair; a backup still works', async () => {
    const packs = () =>
      fs
        .readdirSync(path.join(repo, 'data'))
        .flatMap((d) => fs.readdirSync(path.join(repo, 'data', d)))
        .sort();
    const before = packs();
    expect(before.length).toBeGreaterThan(0);
    const p = await run(repo, ['prune', '--max-unused', '0%']);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/prune refuses.*repo repair index/);
    expect(packs()).toEqual(before);
    await ok(repo, ['backup', src]);
  });

  it('after repair index everything restores and check passes', async () => {
    await ok(repo, ['repair', 'index']);
    const r = await ok(repo, ['restore', `${snapshotOf[2]}:${tmp}`, '--target', path.join(tmp, 'idx-r2b')]);
    expect(r.stderr).not.toMatch(/damaged/);
    expect(fs.readFileSync(path.join(tmp, 'idx-r2b', 'src', 'file-2.txt'), 'utf8')).toBe(
      fs.readFileSync(path.join(src, 'file-2.txt'), 'utf8'),
    );
    await ok(repo, ['check', '--read-data']);
  });
});

describe('one damaged snapshot file of three', () => {
  let repo: string;
  beforeAll(() => {
    repo = copyRepo();
    flip(path.join(repo, 'snapshots', snapshotOf[1]), 50);
  });

  it('snapshots lists the other two and warns naming the file and "repair snapshots --forget"', async () => {
    const r = await ok(repo, ['snapshots']);
    expect(r.out).toMatch(/2 snapshots \(1 damaged snapshot file skipped\)/);
    expect(r.stderr).toContain(`snapshots/${snapshotOf[1]}`);
    expect(r.stderr).toContain('repo repair snapshots --forget');
    expect(JSON.parse((await ok(repo, ['--json', 'snapshots'])).out).map((s: { id: string }) => s.id)).toEqual([
      snapshotOf[0],
      snapshotOf[2],
    ]);
  });

  it('restore latest and the others work; the damaged one fails naming the repair', async () => {
    await ok(repo, ['restore', 'latest', '--target', path.join(tmp, 'sn-latest')]);
    const r = await run(repo, ['restore', snapshotOf[1].slice(0, 8), '--target', path.join(tmp, 'sn-bad')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('repo repair snapshots --forget');
  });

  it('forget applies its policy to the readable ones and says the damaged one was neither kept nor removed', async () => {
    const r = await ok(repo, ['--json', 'forget', '--keep-last', '1', '--dry-run']);
    const groups = JSON.parse(r.out);
    expect(groups[0].keep.map((s: { id: string }) => s.id)).toEqual([snapshotOf[2]]);
    expect(groups[0].remove.map((s: { id: string }) => s.id)).toEqual([snapshotOf[0]]);
    expect(r.stderr).toMatch(/1 damaged snapshot file was neither kept nor removed .*repo repair snapshots --forget/);
  });

  it('prune refuses while the damaged snapshot exists; after repair snapshots --forget it runs', async () => {
    const p = await run(repo, ['prune']);
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/prune refuses.*repo repair snapshots --forget/);
    await ok(repo, ['repair', 'snapshots', '--forget']);
    await ok(repo, ['forget', '--keep-last', '1', '--prune']);
    expect(JSON.parse((await ok(repo, ['--json', 'snapshots'])).out)).toHaveLength(1);
    await ok(repo, ['check', '--read-data']);
  });
});

describe('forget count flags', () => {
  it('the error for a bad --keep-daily names the flag and that -1/unlimited is allowed', async () => {
    const r = await run(pristine, ['forget', '--keep-daily', 'x', '--dry-run']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /--keep-daily: invalid count "x": use a whole number ≥ 0, or -1 or 'unlimited' for no limit/,
    );
    await ok(pristine, ['forget', '--keep-daily', '-1', '--dry-run']);
  });
});
