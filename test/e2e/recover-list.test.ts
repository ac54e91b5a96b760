// `repo list` and `repo recover` through the built CLI, side by side with restic 0.14 (Debian's /usr/bin/restic)
// on the same source tree: list prints the same kinds and numbers of lines in the same shapes, and recover after a
// deleted snapshot file saves the same kind of snapshot (tag "recovered", path "/recover") holding the lost tree.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastJson, runCli } from '../helpers/cli.js';

const RESTIC = '/usr/bin/restic';
const haveRestic = fs.existsSync(RESTIC);
const PASSWORD = 'list and recover';
const HEX = /^[0-9a-f]{64}$/;
let work: string;
/** Our `list KIND` outputs, for the comparison with restic's. */
const ours: Record<string, string> = {};

function restic(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      RESTIC,
      ['-r', path.join(work, 'restic'), '--no-cache', ...args],
      { env: { ...process.env, RESTIC_PASSWORD: PASSWORD }, cwd: work, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`restic ${args.join(' ')}: ${stderr}`)) : resolve(stdout)),
    );
  });
}

async function repo(args: string[], expectCode = 0): Promise<{ out: string; stderr: string }> {
  const r = await runCli(['-r', path.join(work, 'repo'), ...args], { password: PASSWORD, cwd: work });
  if (r.code !== expectCode) throw new Error(`repo ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

const lines = (out: string) => out.split('\n').filter((l) => l !== '');
const byType = (out: string) => {
  const counts: Record<string, number> = {};
  for (const l of lines(out)) counts[l.split(' ')[0]] = (counts[l.split(' ')[0]] ?? 0) + 1;
  return counts;
};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-recover-list-'));
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(src, 'docs', 'a.txt'), 'one\n');
  fs.writeFileSync(path.join(src, 'docs', 'b.txt'), 'two\n');
  fs.writeFileSync(path.join(src, 'top.txt'), 'top\n');
  await repo(['init']);
  await repo(['backup', 'src']);
  if (haveRestic) {
    await restic(['init']);
    await restic(['backup', 'src']);
  }
}, 120_000);

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
});

describe('list', () => {
  it('prints one id per line (blobs as "TYPE ID"), and --json the same ids as objects', async () => {
    for (const kind of ['blobs', 'packs', 'index', 'snapshots', 'keys', 'locks'])
      ours[kind] = (await repo(['list', kind])).out;
    for (const l of lines(ours.blobs)) expect(l).toMatch(/^(data|tree) [0-9a-f]{64}$/);
    // Three distinct small files, and the trees of /, /src and /src/docs.
    expect(byType(ours.blobs)).toEqual({ data: 3, tree: 3 });
    const json = lines((await repo(['--json', 'list', 'blobs'])).out).map((l) => JSON.parse(l));
    expect(json.map((b) => `${b.type} ${b.id}`)).toEqual(lines(ours.blobs));
    for (const b of json) expect(b.pack).toMatch(HEX);
    for (const kind of ['packs', 'index', 'snapshots', 'keys']) {
      expect(lines(ours[kind]).length, kind).toBeGreaterThan(0);
      for (const id of lines(ours[kind])) expect(id).toMatch(HEX);
    }
    const packs = lines((await repo(['--json', 'list', 'packs'])).out).map((l) => JSON.parse(l));
    expect(packs.map((o) => o.id)).toEqual(lines(ours.packs));
    for (const o of packs) expect(o.size).toBeGreaterThan(0);
    expect(lines(ours.locks)).toEqual([]);
    const [sn] = lines(ours.snapshots);
    expect(lines((await repo(['list', 'packs', sn.slice(0, 8)])).out)).toEqual(lines(ours.packs));
  });

  it('refuses an unknown type with one line and exit 1', async () => {
    const r = await repo(['list', 'trees'], 1);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/blobs, packs, index, snapshots, keys, locks/);
  });

  it.skipIf(!haveRestic)('gives restic 0.14 the same kinds and numbers of lines for the same backup', async () => {
    expect(byType(ours.blobs)).toEqual(byType(await restic(['list', 'blobs'])));
    for (const kind of ['packs', 'index', 'snapshots', 'keys', 'locks']) {
      const theirs = lines(await restic(['list', kind]));
      expect(lines(ours[kind]).length, kind).toBe(theirs.length);
      for (const l of theirs) expect(l).toMatch(HEX);
    }
  });
});

describe('recover', () => {
  it('saves a snapshot holding the tree of a deleted snapshot, as restic does', async () => {
    fs.writeFileSync(path.join(work, 'src', 'top.txt'), 'top, changed\n');
    await repo(['backup', 'src']);
    const before = lastJson<any[]>((await repo(['--json', 'snapshots'])).out);
    const lost = before[1];
    fs.rmSync(path.join(work, 'repo', 'snapshots', lost.id));
    const r = lastJson((await repo(['--json', 'recover'])).out);
    expect(r.roots).toEqual([lost.tree]);
    const after = lastJson<any[]>((await repo(['--json', 'snapshots'])).out);
    const rec = after.find((s) => s.id === r.snapshot_id);
    expect(rec).toMatchObject({ paths: ['/recover'], tags: ['recovered'], hostname: os.hostname() });
    const short = lost.tree.slice(0, 8);
    await repo(['restore', `${rec.id}:/${short}/src`, '--target', path.join(work, 'out')]);
    expect(fs.readFileSync(path.join(work, 'out', 'top.txt'), 'utf8')).toBe('top, changed\n');
    expect(fs.readFileSync(path.join(work, 'out', 'docs', 'b.txt'), 'utf8')).toBe('two\n');

    if (!haveRestic) return;
    await restic(['backup', 'src']);
    const theirs = JSON.parse(await restic(['snapshots', '--json']));
    fs.rmSync(path.join(work, 'restic', 'snapshots', theirs[1].id));
    await restic(['recover']);
    const recovered = JSON.parse(await restic(['snapshots', '--json'])).find((s: any) => s.id !== theirs[0].id);
    expect({ paths: rec.paths, tags: rec.tags, hostname: rec.hostname }).toEqual({
      paths: recovered.paths,
      tags: recovered.tags,
      hostname: recovered.hostname,
    });
    const theirLs = lines(await restic(['ls', recovered.id])).filter((l) => l.startsWith('/'));
    const ourLs = lines((await repo(['ls', rec.id])).out).filter((l) => l.startsWith('/'));
    expect(ourLs.map((l) => l.replace(/^\/[0-9a-f]{8}/, '/ID'))).toEqual(
      theirLs.map((l) => l.replace(/^\/[0-9a-f]{8}/, '/ID')),
    );
  });
});
