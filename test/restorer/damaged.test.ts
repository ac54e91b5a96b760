// A restore with a damaged data blob finishes everything else: other files, symlinks, hard links, FIFOs and
// every directory's mode and times; the damaged paths are removed and named (error, JSON lines, exit 1).

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths } from '../../src/archiver/index.js';
import { idFromHex } from '../../src/core/id.js';
import { restoreSnapshot, RestoreDamagedError } from '../../src/restorer/index.js';
import { findSnapshot } from '../../src/snapshot/snapshot.js';
import type { Repository } from '../../src/repository/repository.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { runCli } from '../helpers/cli.js';
import { localRepo, prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { compareTrees } from '../helpers/tree-gen.js';

const SMALL_CHUNKER = { algorithm: 'fastcdc-ronomon' as const, min: 16 * 1024, avg: 64 * 1024, max: 256 * 1024 };
const CLI_PASSWORD = 'damaged restore pw';
const dirs: string[] = [];
const mk = () => {
  const d = tempDir('damaged-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) {
    fs.chmodSync(d, 0o700);
    execFileSync('chmod', ['-R', 'u+rwx', d]);
    fs.rmSync(d, { recursive: true, force: true });
  }
});

const T = (s: number) => new Date(s * 1000);

/**
 * Files around one damaged file (`deep/bad.bin`) and one damaged hard-linked pair (`links/hl-a`, `links/hl-b`):
 * directories with unusual modes and old times, symlinks, a good hard-linked pair, a FIFO, empty files.
 */
function sourceTree(src: string): void {
  const rand = prng(42);
  fs.mkdirSync(path.join(src, 'deep', 'er'), { recursive: true });
  fs.mkdirSync(path.join(src, 'links'));
  fs.mkdirSync(path.join(src, 'z-last'));
  for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `f${i}.bin`), randomBuffer(rand, 1000 + i * 40_000));
  fs.writeFileSync(path.join(src, 'deep', 'bad.bin'), randomBuffer(rand, 300_000));
  fs.writeFileSync(path.join(src, 'deep', 'er', 'good.txt'), 'fine\n');
  fs.writeFileSync(path.join(src, 'deep', 'empty'), '');
  fs.writeFileSync(path.join(src, 'links', 'hl-a'), randomBuffer(rand, 90_000));
  fs.linkSync(path.join(src, 'links', 'hl-a'), path.join(src, 'links', 'hl-b'));
  fs.writeFileSync(path.join(src, 'links', 'ok-a'), randomBuffer(rand, 20_000));
  fs.linkSync(path.join(src, 'links', 'ok-a'), path.join(src, 'links', 'ok-b'));
  fs.symlinkSync('../f0.bin', path.join(src, 'links', 'sym'));
  fs.symlinkSync('/nowhere/at/all', path.join(src, 'z-last', 'dangling'));
  execFileSync('mkfifo', [path.join(src, 'z-last', 'pipe')]);
  fs.writeFileSync(path.join(src, 'z-last', 'tail.bin'), randomBuffer(rand, 50_000));
  for (const [rel, mode, t] of [
    ['deep/er', 0o750, 1_500_000_000],
    ['deep', 0o711, 1_400_000_000],
    ['links', 0o755, 1_300_000_000],
    ['z-last', 0o705, 1_200_000_000],
    ['.', 0o751, 1_100_000_000],
  ] as const) {
    fs.chmodSync(path.join(src, rel), mode);
    fs.utimesSync(path.join(src, rel), T(t), T(t));
  }
}

/** Flips a byte in the middle of a data blob's stored bytes (the pack is read-only on disk). */
function flipBlob(repoDir: string, repo: Repository, hex: string): { pack: string } {
  const loc = repo.index.lookup('data', idFromHex(hex))!;
  const file = path.join(repoDir, 'data', loc.pack.slice(0, 2), loc.pack);
  const bytes = fs.readFileSync(file);
  bytes[loc.offset + Math.floor(loc.storedLength / 2)] ^= 0x40;
  fs.chmodSync(file, 0o600);
  fs.writeFileSync(file, bytes);
  return { pack: loc.pack };
}

/** The content of the file backed up from `abs` (snapshots keep full paths, spec §10). */
async function contentOf(repo: Repository, treeId: string, abs: string): Promise<string[]> {
  let tree = await loadTree(repo, treeId);
  const parts = abs.split('/').filter(Boolean);
  for (const [i, part] of parts.entries()) {
    const n = tree.nodes.find((x) => x.name.toString() === part)!;
    if (i === parts.length - 1) return n.content!;
    tree = await loadTree(repo, n.subtree!);
  }
  throw new Error('unreachable');
}

async function damagedRepo() {
  const work = mk();
  const src = path.join(work, 'src');
  sourceTree(src);
  const repoDir = path.join(work, 'repo');
  const repo = await localRepo(repoDir, { chunker: SMALL_CHUNKER });
  const r = await backupPaths(repo, [src]);
  expect(r.warnings).toEqual([]);
  const sn = await findSnapshot(repo, r.snapshotId!);
  const bad = (await contentOf(repo, sn.tree, path.join(src, 'deep/bad.bin')))[1];
  const hl = (await contentOf(repo, sn.tree, path.join(src, 'links/hl-a')))[0];
  const badPack = flipBlob(repoDir, repo, bad).pack;
  const hlPack = flipBlob(repoDir, repo, hl).pack;
  return { work, src, repoDir, repo, sn, bad, hl, badPack, hlPack };
}

/** The differences expected between source and restore: exactly the three damaged names are missing. */
const EXPECTED_DIFFS = ['deep: entries differ', 'links: entries differ'];
const missing = (target: string) =>
  ['deep/bad.bin', 'links/hl-a', 'links/hl-b'].filter((p) => !fs.existsSync(path.join(target, 'src', p)));

/** Content bytes of the regular files under dir, each inode once. */
function restoredBytes(dir: string): number {
  const seen = new Set<number>();
  let total = 0;
  for (const e of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const st = fs.lstatSync(path.join(dir, e));
    if (!st.isFile() || seen.has(st.ino)) continue;
    seen.add(st.ino);
    total += st.size;
  }
  return total;
}

describe('restore with damaged blobs', () => {
  it('restores everything else with its metadata, removes and names the damaged files (0 and 2 threads)', async () => {
    const { work, src, repo, sn, bad, hl, badPack, hlPack } = await damagedRepo();
    for (const workers of [0, 2]) {
      const target = path.join(work, `restore-${workers}`);
      const warnings: string[] = [];
      const err = await restoreSnapshot(repo, sn, {
        target,
        workers,
        subPath: work,
        onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RestoreDamagedError);
      const e = err as RestoreDamagedError;
      expect(e.code).toBe('INTEGRITY');
      expect(e.damaged.map((d) => path.relative(target, d.path)).sort()).toEqual([
        'src/deep/bad.bin',
        'src/links/hl-a',
        'src/links/hl-b',
      ]);
      const byPath = new Map(e.damaged.map((d) => [path.relative(target, d.path), d]));
      expect(byPath.get('src/deep/bad.bin')).toMatchObject({ blob: bad, pack: badPack });
      expect(byPath.get('src/links/hl-b')).toMatchObject({ blob: hl, pack: hlPack });
      // 6 + bad + good + empty + hl-a + hl-b + ok-a + ok-b + tail = 14 files; 3 damaged.
      expect(e.message).toMatch(/^restored 11 of 14 files; 3 damaged: /);
      expect(e.message).toContain('/src/deep/bad.bin');
      expect(e.damaged.map((d) => d.item).sort()).toEqual(['/src/deep/bad.bin', '/src/links/hl-a', '/src/links/hl-b']);
      expect(e.result.files + e.result.hardlinks).toBe(11);
      expect(e.result.symlinks).toBe(2);
      expect(e.result.specials).toBe(1);
      expect(missing(target)).toEqual(['deep/bad.bin', 'links/hl-a', 'links/hl-b']);
      expect(compareTrees(src, path.join(target, 'src'))).toEqual(EXPECTED_DIFFS);
      expect(fs.statSync(path.join(target, 'src', 'links', 'ok-b')).ino).toBe(
        fs.statSync(path.join(target, 'src', 'links', 'ok-a')).ino,
      );
      expect(warnings.filter((w) => w.includes('bad.bin'))).toHaveLength(1);
      expect(e.result.bytes).toBe(restoredBytes(path.join(target, 'src'))); // nothing counted for the removed files
    }
  });

  it('names at most 10 damaged paths in the summary line, and how many more there are', () => {
    const damaged = Array.from({ length: 12 }, (_, i) => ({
      path: `/t/f${i}`,
      item: `/f${i}`,
      blob: 'b',
      pack: 'p',
      file: 'data/p',
      message: 'm',
    }));
    const result = {
      files: 30,
      dirs: 1,
      symlinks: 0,
      hardlinks: 2,
      specials: 0,
      bytes: 0,
      skipped: 0,
      warnings: 12,
      devices: 0,
      setuid: 0,
      stripped: 0,
      filesTotal: 44,
      damaged: 12,
    };
    const e = new RestoreDamagedError(result, damaged);
    expect(e.message).toBe(
      'restored 32 of 44 files; 12 damaged: /f0, /f1, /f2, /f3, /f4, /f5, /f6, /f7, /f8, /f9, and 2 more',
    );
    expect(e.context).toMatchObject({ path: '/t/f0', file: 'data/p' });
    expect(e.damaged).toHaveLength(12);
  });

  it('CLI: exit 1 with the summary line; --json lists each damaged path with blob and pack', async () => {
    const work = mk();
    const src = path.join(work, 'src');
    sourceTree(src);
    const repoDir = path.join(work, 'repo');
    const env = { REPO_PASSWORD: CLI_PASSWORD };
    expect((await runCli(['-r', repoDir, 'init'], { password: CLI_PASSWORD, env })).code).toBe(0);
    const b = await runCli(['-r', repoDir, 'backup', src, '--json'], { password: CLI_PASSWORD });
    expect(b.code).toBe(0);
    // The repository opened through the library to find and damage the blob.
    const { Repository } = await import('../../src/repository/repository.js');
    const { LocalBackend } = await import('../../src/backend/local.js');
    const repo = await Repository.open(await LocalBackend.open(repoDir), CLI_PASSWORD, { workers: 0 });
    const sn = await findSnapshot(repo, 'latest');
    const bad = (await contentOf(repo, sn.tree, path.join(src, 'deep/bad.bin')))[0];
    const { pack } = flipBlob(repoDir, repo, bad);

    const target = path.join(work, 'out');
    const text = await runCli(['-r', repoDir, 'restore', `latest:${work}`, '--target', target], {
      password: CLI_PASSWORD,
    }); // target gets src/
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/repo: restored 13 of 14 files; 1 damaged: \/src\/deep\/bad\.bin/);
    expect(text.stderr).toMatch(/warning: .*bad\.bin: damaged, not restored: /);
    expect(compareTrees(src, path.join(target, 'src'))).toEqual(['deep: entries differ']);

    const json = await runCli(
      ['-r', repoDir, '--json', 'restore', `latest:${work}`, '--target', path.join(work, 'out-json')],
      { password: CLI_PASSWORD },
    );
    expect(json.code).toBe(1);
    // As restic: status lines and the summary on stdout; on stderr an error line per damaged path, then the exit_error line.
    const errLines = json.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errLines.at(-1)).toMatchObject({
      message_type: 'exit_error',
      code: 1,
      message: expect.stringMatching(new RegExp(`^restored 13 of 14 files; 1 damaged: /src/deep/bad.bin .*${pack}`)),
    });
    const lines = json.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of [...lines, ...errLines]) expect(typeof l.message_type).toBe('string');
    const errors = errLines.filter((l) => l.message_type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ during: 'restore', item: '/src/deep/bad.bin', blob: bad, pack });
    expect((errors[0].error as { message: string }).message).toContain('bad.bin');
    const summary = lines.find((l) => l.message_type === 'summary')!;
    expect(summary).toMatchObject({ files_damaged: 1, total_files: 14, files_restored: 13 });
  });
});
