// `check --read-data` bounds each verify thread's heap (verify-pool.ts oldGenerationMb), and a thread that
// outgrows its bound is ended by V8. The bound must grow with the entries of the largest pack: one pack of
// 50,000 tiny files needs about 27 MiB of objects in a thread, more than the fixed part alone allows.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lastJson, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/repo.js';

const FILES = 50_000;
let tmp: string;
let repo: string;

beforeAll(async () => {
  tmp = tempDir('repo-e2e-many-blobs-');
  repo = path.join(tmp, 'repo');
  const src = path.join(tmp, 'src');
  // Every file has its own contents, so each is a blob of its own; all of them fit in one pack.
  for (let d = 0; d < FILES / 1000; d++) {
    const dir = path.join(src, `d${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 1000; i++) fs.writeFileSync(path.join(dir, `f${i}`), `${d}/${i}\n`);
  }
  for (const args of [['init'], ['backup', '-q', src]]) {
    const r = await runCli(['-r', repo, ...args], { cwd: tmp });
    if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  }
}, 180_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('verifies a pack of 50,000 blobs on a verify thread', async () => {
  const blobs = (await runCli(['-r', repo, 'list', 'blobs'], { cwd: tmp })).out.split('\n');
  expect(blobs.filter((l) => l.startsWith('data ')).length).toBe(FILES);
  const dataPacks = fs
    .readdirSync(path.join(repo, 'data'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile());
  expect(dataPacks.length).toBeLessThanOrEqual(2); // the data pack and the tree pack

  const r = await runCli(['-r', repo, 'check', '--read-data', '--json'], { cwd: tmp });
  expect(r.stderr).not.toMatch(/memory limit|out of memory/i);
  expect(r.code).toBe(0);
  const report = lastJson(r.out) as { ok: boolean; read_data: { blobs_checked: number } };
  expect(report.ok).toBe(true);
  expect(report.read_data.blobs_checked).toBeGreaterThan(FILES);
}, 120_000);
