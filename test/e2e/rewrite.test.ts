// `repo rewrite --exclude` through the built CLI: new snapshots without the matched files that keep time, host,
// tags and paths and name their original; and after `--forget` and `prune`, no blob of the removed file is left
// in any pack or index file, nor its bytes in any blob's plaintext (read through the library).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { idFromHex, idToHex } from '../../src/core/id.js';
import { AAD_INDEX } from '../../src/repository/aad.js';
import { decodeIndex } from '../../src/repository/index-file.js';
import { packHeaderFromBytes } from '../../src/repository/pack-reader.js';
import { Repository } from '../../src/repository/repository.js';
import { listSnapshots } from '../../src/snapshot/snapshot.js';
import { loadTree } from '../../src/tree/tree-store.js';
import { walkTree } from '../../src/tree/walk.js';
import { lastJson, runCli, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';

const PASSWORD = 'rewrite e2e password';
let tmp: string;
let repo: string;
const run = (args: string[]) => runCli(['-r', repo, ...args], { cwd: tmp, password: PASSWORD });
async function ok(args: string[]): Promise<CliResult> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`repo ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.out}`);
  return r;
}
const snapshots = async () => lastJson<any[]>((await ok(['--json', 'snapshots'])).out);
const open = async () => Repository.open(await LocalBackend.open(repo), PASSWORD, { workers: 0 });

// The secret: incompressible, several chunks, with a marker no other file holds.
const MARKER = Buffer.from('-----BEGIN VERY SECRET KEY----- 7f3a9c');
let secret: Buffer;

/** The data blob ids of every node named `name` in every snapshot. */
async function blobsOf(name: string): Promise<Set<string>> {
  const r = await open();
  const ids = new Set<string>();
  try {
    for (const sn of await listSnapshots(r))
      await walkTree((id) => loadTree(r, id), sn.tree, {
        node: (n) => void (n.name.toString() === name && n.content?.forEach((c) => ids.add(c))),
      });
  } finally {
    await r.close();
  }
  return ids;
}

beforeAll(async () => {
  tmp = tempDir('repo-e2e-rewrite-');
  repo = path.join(tmp, 'repo');
  const src = path.join(tmp, 'src');
  fs.mkdirSync(path.join(src, 'keys'), { recursive: true });
  const rand = prng(18);
  secret = Buffer.concat([MARKER, randomBuffer(rand, 400_000), MARKER]);
  fs.writeFileSync(path.join(src, 'keys', 'id_secret'), secret);
  fs.writeFileSync(path.join(src, 'keys', 'PUBLIC.txt'), 'public\n');
  fs.writeFileSync(path.join(src, 'notes.txt'), 'notes\n');
  await ok(['init', '--chunker', '16K/64K/256K']);
  await ok(['backup', 'src', '--host', 'h1', '--tag', 'a,b', '--time', '2026-03-01 12:00:00']);
  fs.writeFileSync(path.join(src, 'notes.txt'), 'notes, changed\n');
  await ok(['backup', 'src', '--host', 'h2', '--time', '2026-03-02 12:00:00']);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('rewrite --exclude', () => {
  it('refuses to run without a pattern, and a dry run changes nothing', async () => {
    const none = await run(['rewrite']);
    expect(none.code).toBe(1);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    const before = (await snapshots()).map((s) => s.id);
    const dry = await ok(['rewrite', '--exclude', 'id_secret', '--dry-run']);
    expect(dry.out).toMatch(/would modify 2 snapshots/);
    expect((await snapshots()).map((s) => s.id)).toEqual(before);
  });

  it('without --forget keeps the originals and tags the new snapshots "rewrite"', async () => {
    const [first] = await snapshots();
    const r = await ok(['--json', 'rewrite', first.id.slice(0, 8), '--exclude', '/src/keys/id_secret']);
    const msg = JSON.parse(r.out.split('\n')[0]);
    expect(msg).toMatchObject({ original_snapshot_id: first.id, excluded: ['/src/keys/id_secret'] });
    const all = await snapshots();
    expect(all).toHaveLength(3);
    const made = all.find((s) => s.id === msg.new_snapshot_id);
    expect(made).toMatchObject({
      time: first.time,
      hostname: 'h1',
      paths: first.paths,
      tags: ['a', 'b', 'rewrite'],
      original: first.id,
    });
    expect(made.summary.total_files_processed).toBe(2);
    const listing = (await ok(['ls', made.id])).out;
    expect(listing).not.toMatch(/id_secret/);
    expect(listing).toMatch(/PUBLIC\.txt/);
    await ok(['forget', made.id]); // back to the two originals
  });

  it('--exclude-file, --iexclude and --forget; after prune no blob of the file remains anywhere', async () => {
    const secretBlobs = await blobsOf('id_secret');
    expect(secretBlobs.size).toBeGreaterThan(2);
    const before = await snapshots();
    const patterns = path.join(tmp, 'patterns');
    fs.writeFileSync(patterns, '# the leaked key\nid_secret\n');
    await ok(['rewrite', '--exclude-file', patterns, '--iexclude', 'NOTHING-MATCHES', '--forget']);
    const after = await snapshots();
    expect(after).toHaveLength(2);
    expect(after.map((s) => s.original)).toEqual(before.map((s) => s.id));
    expect(after.map((s) => [s.time, s.hostname, s.tags, s.paths])).toEqual(
      before.map((s) => [s.time, s.hostname, s.tags, s.paths]),
    );
    expect(await blobsOf('id_secret')).toEqual(new Set());
    // --iexclude ignores case: the public file goes too, in a second rewrite of both.
    await ok(['rewrite', '--iexclude', 'public.TXT', '--forget']);
    expect((await ok(['ls', 'latest'])).out).not.toMatch(/PUBLIC/);

    await ok(['prune', '--max-unused', '0']);
    await ok(['check', '--read-data']);
    const r = await open();
    try {
      const inIndex: string[] = [];
      for (const name of await r.listNames('index')) {
        const idx = decodeIndex(await r.loadUnpacked('index', name, AAD_INDEX), name);
        for (const p of idx.packs) for (const b of p.blobs) inIndex.push(idToHex(b.id));
      }
      expect(inIndex.length).toBeGreaterThan(0);
      expect(inIndex.filter((id) => secretBlobs.has(id))).toEqual([]);
      let blobs = 0;
      for (const pack of await r.listNames('data')) {
        const bytes = await r.backend.load({ type: 'data', name: pack });
        for (const e of packHeaderFromBytes(bytes, r.key.encryption, pack)) {
          expect(secretBlobs.has(idToHex(e.id))).toBe(false);
          const plain = r.openBlob({ ...e, pack }, bytes.subarray(e.offset, e.offset + e.storedLength));
          expect(plain.includes(MARKER)).toBe(false);
          expect(plain.includes(secret.subarray(100_000, 100_064))).toBe(false);
          blobs++;
        }
      }
      expect(blobs).toBeGreaterThan(3);
      for (const id of secretBlobs) expect(r.hasBlob('data', idFromHex(id))).toBe(false);
    } finally {
      await r.close();
    }
  });
});
