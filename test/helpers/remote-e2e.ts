// What the end-to-end tests of remote repositories (s3-e2e, sftp-e2e) share around their own `run`: a run that
// must succeed, one that reads the last --json line, a restore compared with its source, the files under a
// directory, and a directory of incompressible files to back up.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { CliResult } from './cli.js';
import { prng, randomBuffer } from './repo.js';
import { compareTrees } from './tree-gen.js';

type Extra = Record<string, string | undefined>;
export type RepoRun = (repo: string, args: string[], extra?: Extra) => Promise<CliResult>;

export function remoteE2e(run: RepoRun) {
  /** `run` that throws with the command line and its output unless it exits 0. */
  async function ok(repo: string, args: string[], extra: Extra = {}): Promise<CliResult> {
    const r = await run(repo, args, extra);
    if (r.code !== 0)
      throw new Error(
        `repo -r ${repo} ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.out.slice(0, 4000)}`,
      );
    return r;
  }

  /** The last line of `--json` output (backup streams status lines first), parsed. */
  async function json<T = any>(repo: string, args: string[], extra: Extra = {}): Promise<T> {
    const lines = (await ok(repo, ['--json', ...args], extra)).out.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]) as T;
  }

  /** Restores `src` of `snapshot` into `target` and expects the same tree. */
  function restoreAndCompare(repo: string, snapshot: string, src: string, target: string): Promise<void> {
    return ok(repo, ['restore', `${snapshot}:${path.dirname(src)}`, '--target', target]).then(() => {
      expect(compareTrees(src, path.join(target, path.basename(src)), { dirTimes: false })).toEqual([]);
    });
  }

  return { ok, json, restoreAndCompare };
}

/** Every file below `dir`, relative to it ([] when it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Creates `dir` with `count` incompressible 4 MiB files part-00.bin … from the seed. */
export function writeIncompressibleFiles(dir: string, seed: number, count: number): void {
  fs.mkdirSync(dir);
  const rand = prng(seed);
  for (let i = 0; i < count; i++)
    fs.writeFileSync(path.join(dir, `part-${String(i).padStart(2, '0')}.bin`), randomBuffer(rand, 4 * 1024 * 1024));
}
