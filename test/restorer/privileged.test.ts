// Device nodes and setuid/setgid files: restored as stored by default (as restic does) but counted and told;
// --no-devices leaves device nodes out, --strip-setuid clears the bits. Device nodes need root.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreSnapshot } from '../../src/restorer/index.js';
import { lastJson, runCli } from '../helpers/cli.js';
import { tempDir as mkTemp } from '../helpers/repo.js';
import { bytes, fileNode, newRepo, node, snapshotOf, tempDir } from './helpers.js';

const IS_ROOT = process.getuid?.() === 0;
const DEV_NULL_RDEV = String(fs.statSync('/dev/null').rdev);
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

async function privilegedSnapshot() {
  const { repo } = await newRepo();
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const nodes = [
    await fileNode(repo, 'su', bytes(1000, 1), { mode: 0o4755, uid, gid }),
    await fileNode(repo, 'sg', bytes(1000, 2), { mode: 0o2755, uid, gid }),
    await fileNode(repo, 'plain', bytes(1000, 3), { mode: 0o755, uid, gid }),
    node('null', 'chardev', { mode: 0o666, rdev: DEV_NULL_RDEV, uid, gid }),
    node('fifo', 'fifo', { mode: 0o644, uid, gid }),
  ];
  const sn = await snapshotOf(repo, nodes);
  return { repo, sn };
}

describe('device nodes and setuid files', () => {
  it('restores setuid/setgid files as stored and counts them; stripSetuid clears the bits', async () => {
    const { repo, sn } = await privilegedSnapshot();
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const asStored = await restoreSnapshot(repo, sn, { target: path.join(dir, 'a'), devices: false });
    expect(fs.statSync(path.join(dir, 'a', 'su')).mode & 0o7777).toBe(0o4755);
    expect(fs.statSync(path.join(dir, 'a', 'sg')).mode & 0o7777).toBe(0o2755);
    expect(asStored).toMatchObject({ setuid: 2, stripped: 0, devices: 0, specials: 1 });
    expect(fs.existsSync(path.join(dir, 'a', 'null'))).toBe(false);

    const stripped = await restoreSnapshot(repo, sn, {
      target: path.join(dir, 'b'),
      stripSetuid: true,
      devices: false,
    });
    expect(fs.statSync(path.join(dir, 'b', 'su')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(dir, 'b', 'sg')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(dir, 'b', 'plain')).mode & 0o7777).toBe(0o755);
    expect(stripped).toMatchObject({ setuid: 0, stripped: 2 });
  });

  it.skipIf(!IS_ROOT)(
    'as root: creates device nodes by default and counts them; devices: false leaves them out',
    async () => {
      const { repo, sn } = await privilegedSnapshot();
      const { dir, cleanup } = await tempDir();
      cleanups.push(cleanup);
      const r = await restoreSnapshot(repo, sn, { target: path.join(dir, 'a') });
      const st = fs.lstatSync(path.join(dir, 'a', 'null'));
      expect(st.isCharacterDevice()).toBe(true);
      expect(String(st.rdev)).toBe(DEV_NULL_RDEV);
      expect(r).toMatchObject({ devices: 1, specials: 2, setuid: 2 });
      const warnings: string[] = [];
      const off = await restoreSnapshot(repo, sn, {
        target: path.join(dir, 'b'),
        devices: false,
        onWarning: (w) => warnings.push(w.message),
      });
      expect(fs.existsSync(path.join(dir, 'b', 'null'))).toBe(false);
      expect(off).toMatchObject({ devices: 0, specials: 1 });
      expect(warnings).toEqual([]);
    },
  );

  it.skipIf(!IS_ROOT)(
    'CLI as root: one line tells the counts; --no-devices --strip-setuid leave them out',
    async () => {
      const work = mkTemp('privileged-');
      cleanups.push(async () => fs.rmSync(work, { recursive: true, force: true }));
      const src = path.join(work, 'src');
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'su'), 'x');
      fs.chmodSync(path.join(src, 'su'), 0o4755);
      execFileSync('mknod', [path.join(src, 'null'), 'c', '1', '3']);
      const repoDir = path.join(work, 'repo');
      const password = 'privileged pw';
      expect((await runCli(['-r', repoDir, 'init'], { password })).code).toBe(0);
      expect((await runCli(['-r', repoDir, 'backup', src], { password })).code).toBe(0);

      const a = await runCli(['-r', repoDir, 'restore', `latest:${work}`, '--target', path.join(work, 'a')], {
        password,
      });
      expect(a.code, a.stderr).toBe(0);
      expect(a.out).toContain(
        'restored 1 device nodes and 1 setuid/setgid files as the snapshot holds them (--no-devices, --strip-setuid leave them out)',
      );
      expect(fs.lstatSync(path.join(work, 'a', 'src', 'null')).isCharacterDevice()).toBe(true);
      expect(fs.statSync(path.join(work, 'a', 'src', 'su')).mode & 0o7777).toBe(0o4755);

      const b = await runCli(
        [
          '-r',
          repoDir,
          'restore',
          `latest:${work}`,
          '--target',
          path.join(work, 'b'),
          '--no-devices',
          '--strip-setuid',
        ],
        { password },
      );
      expect(b.code, b.stderr).toBe(0);
      expect(b.out).not.toContain('as the snapshot holds them');
      expect(b.out).toContain('cleared the setuid/setgid bits of 1 files (--strip-setuid)');
      expect(fs.existsSync(path.join(work, 'b', 'src', 'null'))).toBe(false);
      expect(fs.statSync(path.join(work, 'b', 'src', 'su')).mode & 0o7777).toBe(0o755);

      const json = await runCli(
        ['-r', repoDir, '--json', 'restore', `latest:${work}`, '--target', path.join(work, 'c')],
        { password },
      );
      expect(lastJson(json.out)).toMatchObject({ message_type: 'summary', devices: 1, setuid: 1, stripped: 0 });
    },
  );
});
