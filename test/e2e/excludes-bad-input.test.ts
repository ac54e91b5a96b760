// Bad input to backup's exclude and --files-from flags: one clear line naming the flag, exit 1, nothing
// written; a --files-from path that does not exist is skipped with a warning and the backup exits 3.
// The differential test against restic is test/long/excludes-restic.test.ts.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const PASSWORD = 'bad exclude input';

describe('bad exclude and --files-from input fails with one line before anything is written', () => {
  let dir: string;
  let repoDir: string;
  const snapshots = () => fs.readdirSync(path.join(repoDir, 'snapshots'), { recursive: true }).length;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'excl-bad-'));
    repoDir = path.join(dir, 'repo');
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'f'), 'f');
    fs.writeFileSync(path.join(dir, 'bad-patterns'), 'ok\n[a\n');
    fs.writeFileSync(path.join(dir, 'raw'), `${dir}/src`);
    const r = await runCli(['-r', repoDir, 'init'], { password: PASSWORD });
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string[], RegExp][] = [
    [['--exclude-file', 'no-such-file'], /--exclude-file: cannot read no-such-file: no such file or directory/],
    [['--iexclude-file', 'no-such-file'], /--iexclude-file: cannot read no-such-file/],
    [['--exclude', '[a'], /--exclude: invalid pattern "\[a"/],
    [['--iexclude', 'x\\'], /--iexclude: invalid pattern "x\\\\"/],
    [['--exclude-file', 'bad-patterns'], /--exclude-file bad-patterns: invalid pattern "\[a"/],
    [['--exclude-larger-than', '1,5M'], /invalid size "1,5M" for --exclude-larger-than/], // 1.5M is a size (src/core/units.ts)
    [['--exclude-if-present', ':sig'], /--exclude-if-present ":sig": expected FILE\[:HEADER\]/],
    [['--files-from', 'no-such-list'], /--files-from: cannot read no-such-list: no such file/],
    [['--files-from-raw', 'raw'], /--files-from-raw raw: trailing zero byte missing/],
  ];
  for (const [flags, message] of cases) {
    it(flags.join(' '), async () => {
      const before = snapshots();
      const r = await runCli(['-r', repoDir, 'backup', ...flags, 'src'], { password: PASSWORD, cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(snapshots()).toBe(before);
    });
  }
  it('a --files-from list naming only missing paths fails; one missing among others warns and exits 3', async () => {
    fs.writeFileSync(path.join(dir, 'list-missing'), `${dir}/nope\n`);
    const none = await runCli(['-r', repoDir, 'backup', '--files-from', 'list-missing'], {
      password: PASSWORD,
      cwd: dir,
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/none of the paths listed by --files-from\* exist/);
    fs.writeFileSync(path.join(dir, 'list-some'), `${dir}/nope\n${dir}/src\n`);
    const some = await runCli(['-r', repoDir, 'backup', '--files-from-verbatim', 'list-some'], {
      password: PASSWORD,
      cwd: dir,
    });
    expect(some.code).toBe(3);
    expect(some.stderr).toContain(`${dir}/nope: does not exist, skipping`);
  });
  it('--files-from - reads the list from standard input', async () => {
    const r = await runCli(['-r', repoDir, '--json', 'backup', '--files-from', '-'], {
      password: PASSWORD,
      cwd: dir,
      input: `# from stdin\n${dir}/src/f\n`,
    });
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(
      r.out
        .trim()
        .split('\n')
        .filter((l) => l.includes('"summary"'))
        .pop()!,
    ) as { total_files_processed: number };
    expect(summary.total_files_processed).toBe(1);
  });
});
