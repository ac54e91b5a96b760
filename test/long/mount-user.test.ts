// `repo mount` without root: fusermount3 mounts and hands the /dev/fuse descriptor back (README, "repo mount").
// Run as a user other than root, this file runs the suite of mount-suite.ts. Run as root, it runs itself again
// as `nobody` in a child vitest: the kernel lets only the mounting user into a mount made without allow_other,
// and only a process whose real, effective and saved ids are all that user's, so root cannot read it in-process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../helpers/cli.js';
import { describeMount, fuseMissing } from './mount-suite.js';

const THIS_FILE = 'test/long/mount-user.test.ts';
const asRoot = process.getuid?.() === 0;
const user = asRoot ? 'nobody' : (os.userInfo().username ?? 'this user');

function id(flag: '-u' | '-g'): number {
  return Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout.trim());
}
const ids = asRoot ? { uid: id('-u'), gid: id('-g') } : {};

function skipReason(): string | undefined {
  const missing = fuseMissing();
  if (missing !== undefined) return missing;
  const helper = (process.env.PATH ?? '')
    .split(':')
    .map((d) => path.join(d, 'fusermount3'))
    .find((p) => fs.existsSync(p));
  const st = helper === undefined ? undefined : fs.statSync(helper);
  if (st === undefined || st.uid !== 0 || (st.mode & 0o4000) === 0) return `${helper} is not setuid root`;
  // fusermount3 opens /dev/fuse as the calling user: Debian's udev makes it 0666 (.ci/run does the same).
  if (spawnSync('test', ['-r', '/dev/fuse', '-a', '-w', '/dev/fuse'], ids).status !== 0)
    return `/dev/fuse is not readable and writable by ${user}`;
  if (spawnSync('test', ['-r', CLI], ids).status !== 0) return `${user} cannot read ${CLI}`;
  return undefined;
}
const reason = skipReason();
const title = `repo mount as ${user}, not root (real FUSE)`;

if (!asRoot) describeMount(title, reason);
else {
  if (reason !== undefined) console.log(`${title} skipped: ${reason}`);
  let home: string | undefined;
  afterAll(() => {
    if (home !== undefined) fs.rmSync(home, { recursive: true, force: true });
  });
  describe.skipIf(reason !== undefined)(title, () => {
    it('passes the whole mount suite of mount-suite.ts', async () => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-mount-home-'));
      fs.chownSync(home, ids.uid!, ids.gid!);
      const vitest = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
      const args = [vitest, 'run', '--configLoader', 'runner', '--config', 'test/vitest.config.ts', THIS_FILE];
      const child = spawn(process.execPath, args, {
        cwd: ROOT,
        ...ids,
        env: { ...process.env, HOME: home, FORCE_COLOR: undefined, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      out = out.replace(/\x1b\[[0-9;]*m/g, ''); // colours, should the child use them anyway
      console.log(out);
      expect(out).not.toContain('skipped:');
      expect(out).toMatch(/Tests\s+6 passed \(6\)/);
      expect(code).toBe(0);
    }, 600_000);
  });
}
