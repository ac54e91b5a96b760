// An RTO that can be trusted: a check that read too little to measure a read rate (less than MIN_RATE_BYTES and
// not every pack) leaves the RTO unknown — reported as such with its own exit code (4), never as a miss or a
// met objective extrapolated from a meaningless rate — and the estimate covers the newest snapshot of every
// path set and says what it includes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

let dir: string;
const env = () => ({
  REPO_STATE_DIR: path.join(dir, 'state'),
  REPO_CACHE_DIR: path.join(dir, 'cache'),
  REPO_PASSWORD: 'rto password',
});
const cli = (...args: string[]) => runCli(args, { cwd: dir, env: env() });
const repoCli = (...args: string[]) => cli('-r', path.join(dir, 'repo'), ...args);

beforeAll(async () => {
  dir = tempDir('repo-rto-');
  for (const d of ['a', 'b']) fs.mkdirSync(path.join(dir, d));
  // 12 MiB of incompressible data in 4 MiB packs: three or more data packs, so one is not "the whole repository".
  fs.writeFileSync(path.join(dir, 'a', 'big.bin'), randomBytes(12 << 20));
  fs.writeFileSync(path.join(dir, 'b', 'small.txt'), 'second path set\n');
  expect((await repoCli('init', '--pack-size', '4M')).code).toBe(0);
  expect((await repoCli('backup', path.join(dir, 'a'))).code).toBe(0);
  expect((await repoCli('backup', path.join(dir, 'b'))).code).toBe(0);
  fs.writeFileSync(
    path.join(dir, 'repo.yaml'),
    `profiles:\n  all:\n    repository: ./repo\n    sources: [./a, ./b]\n    objectives: { rto: 4h }\n`,
  );
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('RTO', () => {
  it('is unknown (exit 4, not 2) without a check, and after a check that read one small pack', async () => {
    const none = await cli('status');
    expect(none.code, none.out + none.stderr).toBe(4);
    expect(none.out).toMatch(
      /UNKNOWN RTO +RTO unknown — run `repo check --read-data-subset 128M` \(no check has read enough to measure a read rate: at least 64\.000 MiB or the whole repository\)/,
    );

    const small = await repoCli('check', '--read-data-subset', '1/5');
    expect(small.code, small.stderr).toBe(0);
    expect(small.stderr + small.out).toMatch(
      /restore time unknown: this check read .*too little to measure a read rate .*run `repo check --read-data-subset 128M`/,
    );
    const j = JSON.parse((await repoCli('--json', 'check', '--read-data-subset', '1/5')).out);
    expect(j.read_data.rate_measured).toBe(false);
    expect(j.read_data.estimated_restore_seconds).toBeUndefined();
    expect(j.read_data.restore_snapshots).toHaveLength(2);
    expect(j.read_data.restore_stored_bytes).toBeGreaterThan(12 << 20);

    const after = await cli('status');
    expect(after.code).toBe(4);
    const st = JSON.parse((await cli('--json', 'status')).out);
    expect(st.profiles[0].objectives).toMatchObject([{ objective: 'rto', state: 'unknown', met: false }]);
  });

  it('is estimated from a check that read the whole repository, covering the newest snapshot of each path set', async () => {
    const full = await repoCli('check', '--read-data');
    expect(full.code).toBe(0);
    expect(full.stderr + full.out).toMatch(
      /estimated time to restore the latest snapshot of each of its 2 path sets \(1[23]\.\d{3} MiB stored\): .*writing the files is not included/,
    );
    const st = await cli('status');
    expect(st.code, st.out).toBe(0);
    expect(st.out).toMatch(
      /met +RTO +full restore estimated at .*: 1[23]\.\d{3} MiB of the newest snapshots of 2 path sets read at .*\/s; writing the files is not included \(RTO 4h\)/,
    );
    const j = JSON.parse((await cli('--json', 'status')).out);
    expect(j.profiles[0].restore.snapshots).toHaveLength(2);
    expect(j.profiles[0].objectives[0].state).toBe('met');
  });
});
