// End-to-end tests of stats, diff, find, tag and analyze through the built `repo` command run as a subprocess.
// Every --json output is parsed (NDJSON line by line where the command streams); only temp directories are written.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// REPO_E2E_CLI points at another build of the command (used while developing these tests before main.ts registers them).
const CLI = process.env.REPO_E2E_CLI ?? path.join(ROOT, 'dist/bundle/repo.js');
const PASSWORD = 'e2e explore password';

interface Result {
  code: number | null;
  out: string;
  stderr: string;
}

let tmp: string;
let repo: string;
let src: string;

function run(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('REPO_')) delete e[k];
  // A cache directory (if the build has a local cache) inside the test's temp dir, never the user's.
  Object.assign(e, { REPO_PASSWORD: PASSWORD, REPO_TEST_KDF: 'cheap', REPO_CACHE_DIR: path.join(tmp, 'cache') }, env);
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: e, cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, out: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

async function ok(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const r = await run(['-r', repo, ...args], env);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

// The whole output, or its last line: backup streams status lines before its summary under --json.
const json = (r: Result) => lastJson(r.out);
const ndjson = (r: Result) =>
  r.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

let first: string;
let second: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-e2e-explore-'));
  repo = path.join(tmp, 'repo');
  src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
  const big = crypto.randomBytes(600_000);
  fs.writeFileSync(path.join(src, 'big.bin'), big);
  fs.writeFileSync(path.join(src, 'copy.bin'), big);
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'version one\n');
  fs.writeFileSync(path.join(src, 'docs', 'b.md'), '# notes\n');
  await ok(['init', '--chunker', '16K/64K/256K']);
  first = json(await ok(['--json', 'backup', 'src', '--time', '2024-01-01 10:00:00'])).snapshot_id;
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'version two, longer\n');
  fs.rmSync(path.join(src, 'docs', 'b.md'));
  fs.writeFileSync(path.join(src, 'docs', 'c.txt'), 'new\n');
  second = json(await ok(['--json', 'backup', 'src', '--time', '2024-01-02 10:00:00'])).snapshot_id;
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('repo stats', () => {
  it('prints parseable JSON in every mode with restic keys and the summary', async () => {
    for (const mode of ['restore-size', 'files-by-contents', 'raw-data', 'blobs-per-file']) {
      const s = json(await ok(['--json', 'stats', '--mode', mode]));
      expect(s).toMatchObject({ mode, snapshots_count: 2 });
      expect(typeof s.total_size).toBe('number');
      expect(s.summary.logical_bytes).toBe(2 * 1_200_000 + 12 + 8 + 20 + 4);
      expect(s.summary.dedupe_ratio).toBeGreaterThan(3);
      expect(s.snapshots.map((x: any) => x.id)).toEqual([first, second]);
      expect(s.repository.unreferenced_blobs).toBe(0);
    }
    const one = json(await ok(['--json', 'stats', second.slice(0, 10)]));
    expect(one.snapshots_count).toBe(1);
    const text = await ok(['stats', '--mode', 'raw-data']);
    expect(text.out).toMatch(/Stats in raw-data mode:/);
    expect(text.out).toMatch(/Dedupe ratio:/);
    const bad = await run(['-r', repo, 'stats', '--mode', 'nope']);
    expect(bad.code).toBe(1);
  });
});

describe('repo diff', () => {
  it('lists changes restic-style and as NDJSON with a statistics line', async () => {
    const text = await ok(['diff', first, second]);
    expect(text.out).toContain('M    /src/docs/a.txt');
    expect(text.out).toContain('-    /src/docs/b.md');
    expect(text.out).toContain('+    /src/docs/c.txt');
    expect(text.out).not.toContain('big.bin');
    const lines = ndjson(await ok(['--json', 'diff', first.slice(0, 8), 'latest']));
    const changes = lines.filter((l) => l.message_type === 'change').map((l) => `${l.modifier} ${l.path}`);
    expect(changes).toEqual(['M /src/docs/a.txt', '- /src/docs/b.md', '+ /src/docs/c.txt']);
    const stats = lines.at(-1);
    expect(stats).toMatchObject({
      message_type: 'statistics',
      source_snapshot: first,
      target_snapshot: second,
      changed_files: 1,
    });
    expect(stats.added).toMatchObject({ files: 1, dirs: 0 });
    expect(stats.removed).toMatchObject({ files: 1 });
    const sub = ndjson(await ok(['--json', 'diff', `${first}:/src/docs`, `${second}:/src/docs`]));
    expect(sub.filter((l) => l.message_type === 'change').map((l) => l.path)).toEqual(['/a.txt', '/b.md', '/c.txt']);
  });
});

describe('repo find', () => {
  it('finds paths by pattern and objects by id', async () => {
    const md = json(await ok(['--json', 'find', '*.md']));
    expect(md).toEqual([
      {
        message_type: 'matches',
        snapshot: first,
        hits: 1,
        matches: [expect.objectContaining({ path: '/src/docs/b.md', type: 'file' })],
      },
    ]);
    const txt = json(await ok(['--json', 'find', '/src/docs/*.TXT', '-i', '--snapshot', second]));
    expect(txt.map((s: any) => s.matches.map((m: any) => m.path))).toEqual([['/src/docs/a.txt', '/src/docs/c.txt']]);
    expect((await ok(['find', 'a.txt'])).out).toMatch(/Found matching entries in snapshot/);
    const tree = json(await ok(['cat', 'tree', `${second}:/src`]));
    const bigNode = tree.nodes.find((n: any) => n.name === 'big.bin');
    const hits = json(await ok(['--json', 'find', '--blob', bigNode.content[0].slice(0, 16)]));
    expect(hits.map((h: any) => [h.snapshot, h.path])).toEqual([
      [first, '/src/big.bin'],
      [first, '/src/copy.bin'],
      [second, '/src/big.bin'],
      [second, '/src/copy.bin'],
    ]);
    expect(hits[0]).toMatchObject({ object_type: 'blob', id: bigNode.content[0] });
    expect(hits[0].packs).toHaveLength(1);
    const packHits = json(await ok(['--json', 'find', '--pack', hits[0].packs[0]]));
    expect(packHits.length).toBeGreaterThanOrEqual(4);
    const none = await run(['-r', repo, 'find']);
    expect(none.code).toBe(1);
  });
});

describe('repo tag', () => {
  it('adds, removes and sets tags, keeping tree and time and recording the original', async () => {
    const before = json(await ok(['--json', 'snapshots']));
    const lines = ndjson(await ok(['--json', 'tag', '--add', 'keep,e2e', first]));
    expect(lines.at(-1)).toEqual({ message_type: 'summary', changed_snapshots: 1 });
    const changed = lines[0];
    expect(changed).toMatchObject({ message_type: 'changed_snapshot', old_snapshot_id: first, tags: ['keep', 'e2e'] });
    let list = json(await ok(['--json', 'snapshots']));
    const tagged = list.find((s: any) => s.id === changed.new_snapshot_id);
    const orig = before.find((s: any) => s.id === first);
    expect(tagged).toMatchObject({ tree: orig.tree, time: orig.time, tags: ['keep', 'e2e'], original: first });
    expect(list.some((s: any) => s.id === first)).toBe(false);
    expect((await ok(['tag', '--tag', 'keep', '--remove', 'e2e'])).out).toMatch(/modified 1 snapshot/);
    await ok(['tag', '--set', '', '--tag', 'keep']);
    list = json(await ok(['--json', 'snapshots']));
    expect(list.map((s: any) => s.tags)).toEqual([[], []]);
    expect(list[0].original).toBe(first);
    first = list[0].id;
    const bad = await run(['-r', repo, 'tag', '--set', 'a', '--add', 'b']);
    expect(bad.code).toBe(1);
  });
});

describe('repo analyze', () => {
  it('works without a repository or password, as JSON, CSV and a table', async () => {
    const noPw = { REPO_PASSWORD: undefined, REPO_REPOSITORY: repo };
    const r = await run(
      ['--json', 'analyze', src, '--chunker-sweep', '--chunker', '16K/64K/256K', '--workers', '2'],
      noPw,
    );
    expect(r.code).toBe(0);
    const a = JSON.parse(r.out);
    expect(a.settings).toHaveLength(7);
    expect(a.files).toBe(4);
    const s = a.settings.find((x: any) => x.label === '16K/64K/256K');
    expect(s.dedupe_ratio).toBeGreaterThan(1.9);
    expect(s.index_bytes).toBe(57 * s.unique_chunks);
    expect(s.repository).toBeUndefined();
    const csv = await run(['analyze', src, path.join(src, 'docs'), '--csv'], noPw);
    const rows = csv.out.trim().split('\n');
    expect(rows[0]).toMatch(/^chunker,min,avg,max,scope,path,files,bytes,chunks/);
    expect(rows).toHaveLength(1 + 1 + 2);
    const table = await run(['analyze', src, '--compression', 'off'], noPw);
    expect(table.out).toMatch(/Chunker\s+Chunks/);
  });

  it('with -r estimates exactly what the next backup adds', async () => {
    const extra = path.join(tmp, 'extra');
    fs.mkdirSync(extra);
    fs.copyFileSync(path.join(src, 'big.bin'), path.join(extra, 'again.bin'));
    fs.writeFileSync(path.join(extra, 'fresh.bin'), crypto.randomBytes(300_000));
    const a = json(await ok(['--json', 'analyze', extra]));
    expect(a.settings).toHaveLength(1);
    const c = a.settings[0].repository;
    expect(c.known_chunks).toBeGreaterThan(0);
    const b = json(await ok(['--json', 'backup', extra]));
    expect(b.data_blobs).toBe(c.added_chunks);
    expect(c.snapshots).toHaveLength(1);
  });
});
