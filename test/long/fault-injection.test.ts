// The fault-injection suite: every kind of repository file (data pack, tree pack, index, snapshot, key, config)
// is damaged in every way (bit flip, truncation, deletion, garbage, an unknown file beside it), plus duplicate
// blobs, packs missing from the index and permission denied. Each case runs the built CLI as a user would:
// check names the damaged file; restore gives correct bytes or one clear error line, never wrong bytes; repair
// recovers everything not actually destroyed and check passes afterwards. An oracle computed from the intact
// repository says which files each fault destroys, so every expectation is exact. Hostile repositories
// (unsafe names, symlink tricks) are restored through the CLI last.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../src/backend/local.js';
import { Semaphore } from '../../src/core/concurrency.js';
import { idToHex } from '../../src/core/id.js';
import { blake3 } from '../../src/crypto/blake3.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { AAD_INDEX } from '../../src/repository/aad.js';
import type { BlobEntry } from '../../src/repository/blob.js';
import { decodeIndex, encodeIndex } from '../../src/repository/index-file.js';
import { addKey } from '../../src/repository/key-management.js';
import { Repository } from '../../src/repository/repository.js';
import { listSnapshots, loadSnapshot } from '../../src/snapshot/snapshot.js';
import { loadTree, saveTree } from '../../src/tree/tree-store.js';
import { CLI, cliEnv, type CliResult } from '../helpers/cli.js';
import { prng, randomBuffer, tempDir } from '../helpers/repo.js';
import { fileNode, node, rawNode, rawTree, snapshotOf } from '../restorer/helpers.js';

const PASSWORD = 'fault injection password';
const NOBODY = 65534;
const IS_ROOT = process.getuid?.() === 0;
const HAVE_SETPRIV = (() => {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** Why user nobody cannot run the CLI here (node, the build or the temp directory out of its reach), if it cannot. */
function nobodyBlocked(): string | undefined {
  if (!IS_ROOT) return undefined;
  try {
    execFileSync(
      'setpriv',
      [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        process.execPath,
        '-e',
        `require('fs').accessSync(${JSON.stringify(CLI)}); require('fs').readdirSync(${JSON.stringify(tmp)})`,
      ],
      { stdio: 'pipe' },
    );
    return undefined;
  } catch (err) {
    const reason = `user nobody cannot run ${CLI} below ${tmp}: ${String((err as { stderr?: unknown }).stderr ?? err).split('\n')[0]}`;
    console.warn(`skipping a permission case: ${reason}`);
    return reason;
  }
}

/** Cases run a few at a time: each runs its CLI processes one after another. */
const slots = new Semaphore(3);
const CASE_TIMEOUT = 300_000;

// ---------------------------------------------------------------------------------------------------------
// Running the CLI

let invocations = 0;

/**
 * Runs `repo` as a subprocess (as user nobody via setpriv when asked) and checks what holds for every run.
 * Each case has its own cache directory, so no copy of the base repository (they share its id) can serve another's files.
 */
function cli(args: string[], cacheDir: string, asNobody = false, password = PASSWORD): Promise<CliResult> {
  invocations++;
  const [cmd, argv] = asNobody
    ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: tmp,
      env: cliEnv(password, { REPO_CACHE_DIR: cacheDir }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      const r = { code, signal, stdout, out: stdout.toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      const what = `repo ${args.join(' ')} (exit ${code})\n--- stdout\n${r.out}--- stderr\n${r.stderr}`;
      try {
        expect(signal, what).toBeNull();
        expect(r.stderr, `stack trace from ${what}`).not.toMatch(/^\s+at /m);
        expect(r.stderr, `stack trace from ${what}`).not.toMatch(/caused by:/);
        resolve(r);
      } catch (e) {
        reject(e);
      }
    });
  });
}

const describeRun = (r: CliResult) => `exit ${r.code}\n--- stdout\n${r.out}--- stderr\n${r.stderr}`;

function expectOk(r: CliResult): void {
  expect(r.code, describeRun(r)).toBe(0);
}

/**
 * A `--json` run with its stderr put back into text lines: restic's error lines become "warning: ITEM: MESSAGE"
 * and the exit_error line "repo: MESSAGE", so one set of checks reads both forms; stdout's last line is the result.
 */
function fromJson(r: CliResult): CliResult & { result: any } {
  const stderr = r.stderr
    .split('\n')
    .map((l) => {
      if (!l.startsWith('{')) return l;
      const m = JSON.parse(l) as { message_type: string; message?: string; item?: string; error?: { message: string } };
      return m.message_type === 'exit_error' ? `repo: ${m.message}` : `warning: ${m.item}: ${m.error?.message}`;
    })
    .join('\n');
  const out = r.out.trim().split('\n');
  return { ...r, stderr, result: r.code === 0 ? JSON.parse(out[out.length - 1]) : undefined };
}

/** A failed command printed exactly one error line (plus possibly warnings) and nothing else on stderr. */
/**
 * A failed restore: exit 1 and nothing but error and warning lines. Restore either stops with one error line or,
 * for a damaged tree, goes on and names it in a warning (spec §9.1): the error line if there is one, else the first warning.
 */
function failureLine(r: CliResult): string {
  expect(r.code, describeRun(r)).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(
    lines.filter((l) => !l.startsWith('repo: ') && !l.startsWith('warning: ')),
    describeRun(r),
  ).toEqual([]);
  const line = lines.find((l) => l.startsWith('repo: ')) ?? lines.find((l) => l.startsWith('warning: '));
  expect(line, describeRun(r)).toBeDefined();
  return line!;
}

function errorLine(r: CliResult, code = 1): string {
  expect(r.code, describeRun(r)).toBe(code);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const errors = lines.filter((l) => l.startsWith('repo: '));
  expect(errors, describeRun(r)).toHaveLength(1);
  expect(
    lines.filter((l) => !l.startsWith('repo: ') && !l.startsWith('warning: ')),
    describeRun(r),
  ).toEqual([]);
  return errors[0];
}

// ---------------------------------------------------------------------------------------------------------
// The base repository and what it holds (the oracle)

interface PackInfo {
  id: string;
  type: 'data' | 'tree';
  entries: BlobEntry[];
  size: number;
}

interface EntryInfo {
  path: string; // "src/a/b/n.txt", as restored below the target
  type: 'file' | 'dir' | 'symlink';
  /** Tree ids from the root tree down to the tree that lists this entry. */
  ancestors: string[];
  content?: string[];
  subtree?: string;
}

interface SnapInfo {
  id: string;
  time: string;
  version: 1 | 2;
  tree: string;
  entries: EntryInfo[];
  trees: Set<string>;
  data: Set<string>;
}

interface Layout {
  packs: Map<string, PackInfo>;
  /** index file name → pack ids it names */
  indexes: Map<string, string[]>;
  snapshots: SnapInfo[]; // oldest first
  rawLength: Map<string, number>;
  blobPaths: Map<string, string[]>;
  key: string;
  /** The first backup's data pack, tree pack and index file. */
  d1: PackInfo;
  t1: PackInfo;
  i1: string;
}

let tmp: string;
let base: string; // the intact repository
let srcV1: string; // the source as the first backup saw it
let srcV2: string; // … and as the second one did
let layout: Layout;
const results: { name: string; outcome: string }[] = [];
const started = Date.now();

const packFile = (repo: string, id: string) => path.join(repo, 'data', id.slice(0, 2), id);

async function openLib(repo: string, skipIndex = true): Promise<Repository> {
  return Repository.open(await LocalBackend.open(repo), PASSWORD, { skipIndex, workers: 0 });
}

async function analyze(repoDir: string): Promise<Layout> {
  const repo = await openLib(repoDir, false);
  try {
    const packs = new Map<string, PackInfo>();
    const indexes = new Map<string, string[]>();
    const rawLength = new Map<string, number>();
    for (const name of await repo.listNames('index')) {
      const idx = decodeIndex(await repo.loadUnpacked('index', name, AAD_INDEX), name);
      indexes.set(
        name,
        idx.packs.map((p) => p.pack),
      );
      for (const p of idx.packs) {
        packs.set(p.pack, {
          id: p.pack,
          type: p.blobs[0].type,
          entries: p.blobs,
          size: fs.statSync(packFile(repoDir, p.pack)).size,
        });
        for (const b of p.blobs) rawLength.set(idToHex(b.id), b.rawLength);
      }
    }
    const blobPaths = new Map<string, string[]>();
    const snapshots: SnapInfo[] = [];
    for (const [i, sn] of (await listSnapshots(repo)).entries()) {
      const info: SnapInfo = {
        id: sn.id,
        time: sn.time,
        version: (i + 1) as 1 | 2,
        tree: sn.tree,
        entries: [],
        trees: new Set(),
        data: new Set(),
      };
      const walk = async (treeId: string, dir: string, ancestors: string[]) => {
        info.trees.add(treeId);
        for (const n of (await loadTree(repo, treeId)).nodes) {
          const p = dir === '' ? n.name.toString() : `${dir}/${n.name.toString()}`;
          if (n.type !== 'file' && n.type !== 'dir' && n.type !== 'symlink')
            throw new Error(`unexpected ${n.type} in the test source`);
          info.entries.push({ path: p, type: n.type, ancestors, content: n.content, subtree: n.subtree });
          for (const c of n.content ?? []) {
            info.data.add(c);
            blobPaths.set(c, [...new Set([...(blobPaths.get(c) ?? []), p])]);
          }
          if (n.subtree) {
            blobPaths.set(n.subtree, [...new Set([...(blobPaths.get(n.subtree) ?? []), p + '/'])]);
            await walk(n.subtree, p, [...ancestors, n.subtree]);
          }
        }
      };
      await walk(sn.tree, '', [sn.tree]);
      snapshots.push(info);
    }
    expect(snapshots).toHaveLength(2);
    const [sn1] = snapshots;
    const d1 = [...packs.values()].find(
      (p) => p.type === 'data' && p.entries.some((e) => sn1.data.has(idToHex(e.id))),
    )!;
    const t1 = [...packs.values()].find((p) => p.type === 'tree' && p.entries.some((e) => idToHex(e.id) === sn1.tree))!;
    const i1 = [...indexes].find(([, ps]) => ps.includes(d1.id))![0];
    expect(packs.size, 'two backups make one data and one tree pack each').toBe(4);
    expect(indexes.get(i1)!.sort()).toEqual([d1.id, t1.id].sort());
    const [key] = await repo.listNames('keys');
    return { packs, indexes, snapshots, rawLength, blobPaths, key, d1, t1, i1 };
  } finally {
    await repo.close();
  }
}

const blobsOf = (p: PackInfo) => new Set(p.entries.map((e) => idToHex(e.id)));
const snapshotOfVersion = (v: 1 | 2) => layout.snapshots[v - 1];
const describeBlob = (hex: string) => `${hex.slice(0, 8)} (${(layout.blobPaths.get(hex) ?? ['?']).join(', ')})`;

function needs(sn: SnapInfo, blobs: Set<string>): boolean {
  for (const b of blobs) if (sn.trees.has(b) || sn.data.has(b)) return true;
  return false;
}

type Expected =
  | { type: 'dir' }
  | { type: 'symlink'; target: string }
  | { type: 'file'; bytes: Buffer; mode: number; damaged: boolean };

/**
 * What restoring `sn` yields once `lost` blobs are gone and repair snapshots has run: entries below a lost
 * tree are absent (the directory itself stays, empty), a file whose content lost a blob keeps the bytes
 * before the first lost blob, everything else is exactly the source.
 */
function expectedRestore(sn: SnapInfo, lost: Set<string>): Map<string, Expected> {
  const root = sn.version === 1 ? srcV1 : srcV2;
  const out = new Map<string, Expected>();
  for (const e of sn.entries) {
    if (e.ancestors.some((t) => lost.has(t))) continue;
    const src = path.join(root, e.path.split('/').slice(1).join('/'));
    if (e.type === 'dir') out.set(e.path, { type: 'dir' });
    else if (e.type === 'symlink') out.set(e.path, { type: 'symlink', target: fs.readlinkSync(src) });
    else {
      const content = e.content ?? [];
      const k = content.findIndex((c) => lost.has(c));
      let bytes = fs.readFileSync(src);
      if (k >= 0)
        bytes = bytes.subarray(
          0,
          content.slice(0, k).reduce((n, c) => n + layout.rawLength.get(c)!, 0),
        );
      out.set(e.path, { type: 'file', bytes, mode: fs.statSync(src).mode & 0o7777, damaged: k >= 0 });
    }
  }
  return out;
}

/**
 * Compares a restore target with what was expected. `complete`: everything expected is there with its mode.
 * Otherwise (a failed restore) only what is there is checked: no entry may be unexpected or have wrong bytes.
 */
function verifyTarget(target: string, expected: Map<string, Expected>, complete: boolean): void {
  const found = new Set<string>();
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(p);
      const x = expected.get(r);
      expect(x, `${r} was restored but should not exist`).toBeDefined();
      found.add(r);
      if (st.isDirectory()) {
        expect(x!.type, r).toBe('dir');
        walk(p, r);
      } else if (st.isSymbolicLink()) {
        expect(x, r).toEqual({ type: 'symlink', target: fs.readlinkSync(p) });
      } else {
        expect(st.isFile(), r).toBe(true);
        expect(x!.type, r).toBe('file');
        const want = x as Extract<Expected, { type: 'file' }>;
        const got = fs.readFileSync(p);
        expect(got.length, `${r}: size`).toBe(want.bytes.length);
        expect(got.equals(want.bytes), `${r}: restored bytes differ from the source`).toBe(true);
        if (complete) expect(st.mode & 0o7777, `${r}: mode`).toBe(want.mode);
      }
    }
  };
  if (fs.existsSync(target)) walk(target, '');
  if (complete)
    expect(
      [...expected.keys()].filter((k) => !found.has(k)),
      'entries missing from the restore',
    ).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------------
// Building the source and the base repository once

beforeAll(async () => {
  tmp = tempDir('repo-faults-');
  fs.chmodSync(tmp, 0o755); // the permission cases run the CLI as nobody below it
  base = path.join(tmp, 'base');
  srcV2 = path.join(tmp, 'src');
  srcV1 = path.join(tmp, 'src-v1');
  const rand = prng(20261127);
  // Access times after the modification times and in the future: reading a file (the first backup) then does
  // not change its atime, which the tree records, so unchanged directories keep their tree ids across backups.
  const later = Date.now() / 1000 + 86_400;
  const w = (rel: string, data: Buffer | string, mode = 0o644) => {
    const p = path.join(srcV2, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    fs.chmodSync(p, mode);
    fs.utimesSync(p, later, 1_700_000_000);
  };
  w('big.bin', randomBuffer(rand, 1_500_000)); // ~20 chunks at 16K/64K/256K
  w('text.txt', Array.from({ length: 6000 }, (_, i) => `line ${i} of a compressible text file\n`).join(''));
  w('empty', '', 0o600);
  w('a/small.txt', 'hello\n');
  w('a/b/n.txt', 'nested\n', 0o640);
  w('a/b/c/deep.bin', randomBuffer(rand, 40_000), 0o755);
  w('keep/x.txt', 'unchanged directory\n');
  fs.symlinkSync('a/small.txt', path.join(srcV2, 'link'));
  const run = async (args: string[]) => expectOk(await cli(['-r', base, ...args], path.join(tmp, 'cache-base')));
  await run(['init', '--chunker', '16K/64K/256K']);
  await run(['backup', 'src', '--time', '2026-01-01 10:00:00']); // relative: the root holds /src
  execFileSync('cp', ['-a', srcV2, srcV1]);
  const big = fs.readFileSync(path.join(srcV2, 'big.bin'));
  big.fill(0x58, 700_000, 700_100); // one chunk in the middle changes, the others stay shared
  fs.writeFileSync(path.join(srcV2, 'big.bin'), big);
  fs.appendFileSync(path.join(srcV2, 'a/small.txt'), 'more\n');
  for (const f of ['big.bin', 'a/small.txt']) fs.utimesSync(path.join(srcV2, f), later, 1_700_000_100);
  w('new.bin', randomBuffer(rand, 30_000));
  await run(['backup', 'src', '--time', '2026-01-02 10:00:00', '--force']);
  layout = await analyze(base);
}, 120_000);

afterAll(() => {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const width = Math.max(...results.map((r) => r.name.length));
  console.log(
    `fault-injection suite: ${results.length} cases, ${invocations} CLI runs, ${secs} s\n` +
      results
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((r) => `${r.name.padEnd(width)}  ${r.outcome}`)
        .join('\n'),
  );
  if (tmp) {
    execFileSync('chmod', ['-R', 'u+rwX', tmp]);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Faults and what each must lead to

interface Fault {
  /** What the fault did, for the report. */
  detail: string;
  /** Whether plain `check` and `check --read-data` pass. */
  check: boolean;
  checkRead: boolean;
  /** Strings a failing check must print: the damaged file, pack or index. */
  names: (string | RegExp)[];
  /** Extra output a check must (or must not) show, e.g. notes. */
  checkShows?: RegExp[];
  finalNotShows?: RegExp[];
  /** The restore fails before reading content (opening, index, snapshot list), with this error. */
  openError?: RegExp;
  /** Blobs a restore cannot read before repair, and the error that then names them. */
  unavailable?: Set<string>;
  restoreError?: RegExp;
  latestBefore?: 1 | 2;
  /** Repair commands (each must succeed), then an optional fix by the administrator. */
  repair: string[][];
  /** Output the repair commands must show (stdout and stderr of all of them). */
  repairShows?: RegExp[];
  fix?: () => void;
  /** Blobs destroyed for good, and which source version `latest` is after repair. */
  lost?: Set<string>;
  latestAfter?: 1 | 2;
  /** Nothing can open the repository: every command fails with this exit code and error. */
  unrecoverable?: { code: number; error: RegExp };
}

const re = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));

function flipBit(file: string, offset: number, bit: number): void {
  const b = fs.readFileSync(file);
  b[offset] ^= 1 << bit;
  fs.writeFileSync(file, b);
}

function garbage(file: string, rand: () => number): void {
  fs.writeFileSync(file, randomBuffer(rand, fs.statSync(file).size));
}

function truncate(file: string, rand: () => number): number {
  const size = fs.statSync(file).size;
  const len = Math.floor(size * (0.25 + 0.5 * rand()));
  fs.truncateSync(file, len);
  return len;
}

type Kind = 'data pack' | 'tree pack' | 'index' | 'snapshot' | 'key' | 'config';
type FaultName =
  | 'bit flip'
  | 'bit flip in the pack header'
  | 'truncate'
  | 'empty'
  | 'delete'
  | 'garbage'
  | 'replaced by another pack'
  | 'unknown file beside'
  | 'foreign file with a valid name';

const KINDS: Kind[] = ['data pack', 'tree pack', 'index', 'snapshot', 'key', 'config'];
const FAULTS: FaultName[] = [
  'bit flip',
  'bit flip in the pack header',
  'truncate',
  'empty',
  'delete',
  'garbage',
  'replaced by another pack',
  'unknown file beside',
  'foreign file with a valid name',
];
/** Faults that only make sense for some kinds. */
function applies(kind: Kind, fault: FaultName): boolean {
  if (fault === 'bit flip in the pack header' || fault === 'replaced by another pack') return kind.endsWith('pack');
  if (fault === 'foreign file with a valid name') return kind !== 'config' && kind !== 'tree pack'; // a foreign pack is a foreign pack
  return true;
}

/** Stores random bytes under their own storage id in `dir`: a file no reader can open, with a name that says it is fine. */
function foreignFile(dir: string, rand: () => number, size: number): string {
  const bytes = randomBuffer(rand, size);
  const name = blake3(bytes).toString('hex');
  const sub = path.basename(dir) === 'data' ? path.join(dir, name.slice(0, 2)) : dir;
  fs.mkdirSync(sub, { recursive: true });
  fs.writeFileSync(path.join(sub, name), bytes);
  return name;
}

function applyPackFault(repo: string, pack: PackInfo, fault: FaultName, rand: () => number): Fault {
  const file = packFile(repo, pack.id);
  const all = blobsOf(pack);
  const salvage = [
    ['repair', 'packs', pack.id],
    ['repair', 'snapshots', '--forget'],
  ];
  const [sn1, sn2] = layout.snapshots;
  const named = re(pack.id);
  switch (fault) {
    case 'bit flip': {
      // Preferably a blob both snapshots need, so the restore of latest must notice.
      const need = (sn: SnapInfo, e: BlobEntry) => needs(sn, new Set([idToHex(e.id)]));
      const shared = pack.entries.filter((e) => need(sn1, e) && need(sn2, e));
      const latest = pack.entries.filter((e) => need(sn2, e));
      const pool = shared.length > 0 ? shared : latest.length > 0 ? latest : pack.entries;
      const e = pool[Math.floor(rand() * pool.length)];
      const offset = e.offset + Math.floor(rand() * e.storedLength);
      const bit = Math.floor(rand() * 8);
      flipBit(file, offset, bit);
      const lost = new Set([idToHex(e.id)]);
      return {
        detail: `bit ${bit} of byte ${offset}, in ${pack.type} blob ${describeBlob(idToHex(e.id))}`,
        check: pack.type === 'data', // trees are loaded by every check, data only with --read-data
        checkRead: false,
        names: [named],
        unavailable: lost,
        restoreError: named,
        repair: salvage,
        lost,
      };
    }
    case 'bit flip in the pack header': {
      const blobEnd = pack.entries.reduce((n, e) => n + e.storedLength, 0);
      const offset = blobEnd + Math.floor(rand() * (pack.size - blobEnd));
      const bit = Math.floor(rand() * 8);
      flipBit(file, offset, bit);
      // The index still locates every blob, so restore works; repair packs moves them to a sound pack.
      return {
        detail: `bit ${bit} of byte ${offset} (header area starts at ${blobEnd})`,
        check: false,
        checkRead: false,
        names: [named],
        repair: [['repair', 'packs', pack.id]],
      };
    }
    case 'truncate': {
      const len = truncate(file, rand);
      const lost = new Set(pack.entries.filter((e) => e.offset + e.storedLength > len).map((e) => idToHex(e.id)));
      return {
        detail: `to ${len} of ${pack.size} bytes, ${lost.size} of ${pack.entries.length} blobs cut`,
        check: false,
        checkRead: false,
        names: [named],
        unavailable: lost,
        restoreError: named,
        repair: salvage,
        lost,
      };
    }
    case 'empty':
      fs.truncateSync(file, 0);
      return {
        detail: `0 of ${pack.size} bytes`,
        check: false,
        checkRead: false,
        names: [named],
        unavailable: all,
        restoreError: named,
        repair: salvage,
        lost: all,
      };
    case 'replaced by another pack': {
      // A valid pack under the wrong name: its header opens, but lists other blobs; no blob may be taken for another.
      const other = [...layout.packs.values()].find((p) => p.type === pack.type && p.id !== pack.id)!;
      fs.copyFileSync(packFile(repo, other.id), file);
      return {
        detail: `by the bytes of pack ${other.id.slice(0, 8)}`,
        check: false,
        checkRead: false,
        names: [named],
        unavailable: all,
        restoreError: named,
        repair: salvage,
        lost: all,
      };
    }
    case 'foreign file with a valid name': {
      const name = foreignFile(path.join(repo, 'data'), rand, 5000);
      // Only unreferenced, so plain check just notes it; reading it fails; repair packs removes it.
      return {
        detail: `pack ${name.slice(0, 8)} of random bytes`,
        check: true,
        checkRead: false,
        names: [re(name)],
        checkShows: [new RegExp(`pack ${name} is not in any index`)],
        repair: [['repair', 'packs', name]],
        repairShows: [/0 blobs salvaged, 0 lost/],
        finalNotShows: [re(name)],
      };
    }
    case 'delete':
      fs.rmSync(file);
      return {
        detail: `${pack.entries.length} blobs`,
        check: false,
        checkRead: false,
        names: [named],
        unavailable: all,
        restoreError: named,
        repair: [
          ['repair', 'index'],
          ['repair', 'snapshots', '--forget'],
        ],
        lost: all,
      };
    case 'garbage':
      garbage(file, rand);
      return {
        detail: `${pack.size} random bytes`,
        check: false,
        checkRead: false,
        names: [named],
        unavailable: all,
        restoreError: named,
        repair: salvage,
        lost: all,
      };
    case 'unknown file beside': {
      const sub = path.dirname(file);
      fs.writeFileSync(path.join(sub, 'not-a-pack-name'), 'stray');
      fs.writeFileSync(path.join(sub, '.tmp-0123456789abcdef'), randomBuffer(rand, 1000)); // an interrupted writer
      const other = pack.id.startsWith('00') ? 'ff' : '00';
      fs.copyFileSync(file, path.join(repo, 'data', other, pack.id)); // a valid pack name in the wrong directory
      fs.mkdirSync(path.join(repo, 'data', 'zz'));
      fs.writeFileSync(path.join(repo, 'data', 'zz', pack.id), 'x');
      return {
        detail: 'stray names, a temp file, a pack copy in the wrong directory',
        check: true,
        checkRead: true,
        names: [],
        repair: [],
      };
    }
  }
}

function applyFault(repo: string, kind: Kind, fault: FaultName, rand: () => number): Fault {
  if (kind === 'data pack') return applyPackFault(repo, layout.d1, fault, rand);
  if (kind === 'tree pack') return applyPackFault(repo, layout.t1, fault, rand);
  const [sn1, sn2] = layout.snapshots;
  const file =
    kind === 'index'
      ? `index/${layout.i1}`
      : kind === 'snapshot'
        ? `snapshots/${sn2.id}`
        : kind === 'key'
          ? `keys/${layout.key}`
          : 'config';
  const abs = path.join(repo, file);
  const size = fs.statSync(abs).size;
  const original = fs.readFileSync(abs, 'latin1');
  let flippedAt = -1;
  let detail: string;
  switch (fault) {
    case 'bit flip': {
      const offset = Math.floor(rand() * size);
      const bit = Math.floor(rand() * 8);
      flipBit(abs, offset, bit);
      flippedAt = offset;
      detail = `bit ${bit} of byte ${offset} of ${size}`;
      break;
    }
    case 'truncate':
      detail = `to ${truncate(abs, rand)} of ${size} bytes`;
      break;
    case 'empty':
      fs.truncateSync(abs, 0);
      detail = `0 of ${size} bytes`;
      break;
    case 'foreign file with a valid name': {
      const name = foreignFile(path.dirname(abs), rand, size);
      const file = `${path.basename(path.dirname(abs))}/${name}`;
      detail = `${file.slice(0, 20)}… of random bytes`;
      const named = re(file);
      // Degrade, don't block: a foreign index or snapshot file is skipped with a warning; the real ones all work.
      if (kind === 'index')
        return { detail, check: false, checkRead: false, names: [named], repair: [['repair', 'index']] };
      if (kind === 'snapshot') {
        return {
          detail,
          check: false,
          checkRead: false,
          names: [named],
          repair: [['repair', 'snapshots', '--forget']],
          repairShows: [/cannot be read and was removed/],
        };
      }
      // keys: the real key still opens the repository; check names the foreign one, and key remove drops it.
      return { detail, check: false, checkRead: false, names: [named], repair: [['key', 'remove', name]] };
    }
    case 'delete':
      fs.rmSync(abs);
      detail = '';
      break;
    case 'garbage':
      garbage(abs, rand);
      detail = `${size} random bytes`;
      break;
    case 'unknown file beside': {
      const dir = path.dirname(abs);
      if (kind === 'config') {
        fs.copyFileSync(abs, path.join(repo, 'config.bak'));
        fs.writeFileSync(path.join(repo, 'README'), 'a repository\n');
      } else {
        fs.writeFileSync(path.join(dir, 'README'), 'stray\n');
        fs.writeFileSync(path.join(dir, `${path.basename(abs)}.bak`), fs.readFileSync(abs));
        fs.writeFileSync(path.join(dir, 'garbage'), randomBuffer(rand, 100));
      }
      return { detail: 'stray files beside it', check: true, checkRead: true, names: [], repair: [] };
    }
    default:
      throw new Error(`no ${fault} for ${kind}`);
  }
  const named = re(file);
  switch (kind) {
    case 'index': {
      // The packs it named are unindexed now (a damaged file is skipped with a warning, as if deleted): the
      // restore misses their blobs and says so; check names them (and the damaged file).
      const packs = layout.indexes.get(layout.i1)!;
      const unavailable = new Set(packs.flatMap((p) => [...blobsOf(layout.packs.get(p)!)]));
      if (fault === 'delete') {
        return {
          detail,
          check: false,
          checkRead: false,
          names: packs.map(re),
          checkShows: [/not in any index/],
          unavailable,
          restoreError: /is not in the index/,
          repair: [['repair', 'index']],
        };
      }
      return {
        detail,
        check: false,
        checkRead: false,
        names: [named],
        unavailable,
        restoreError: /is not in the index/,
        repair: [['repair', 'index']],
      };
    }
    case 'snapshot':
      if (fault === 'delete') return { detail, check: true, checkRead: true, names: [], latestBefore: 1, repair: [] };
      // The snapshot file itself is destroyed: it is skipped with a warning (latest is the first backup), and
      // repair snapshots --forget removes it.
      return {
        detail,
        check: false,
        checkRead: false,
        names: [named],
        latestBefore: 1,
        repair: [['repair', 'snapshots', '--forget']],
        repairShows: [new RegExp(`snapshot ${sn2.id.slice(0, 8)} cannot be read and was removed`)],
        latestAfter: 1,
      };
    case 'key':
      if (fault === 'bit flip' && !insideSalt(original, flippedAt)) {
        // Only the sealed key is authenticated: a flip anywhere but the salt still opens (labels are ignored, a
        // parameter or one base64 character of the sealed key is guessed back). check names the file; a fresh
        // key file for the same password replaces it.
        const pw = path.join(path.dirname(repo), 'same-password');
        fs.writeFileSync(pw, `${PASSWORD}\n`);
        return {
          detail,
          check: false,
          checkRead: false,
          names: [named],
          repair: [
            ['key', 'add', '--new-password-file', pw],
            ['key', 'remove', layout.key],
          ],
        };
      }
      // With the only key file damaged beyond use the error must name it, not claim a wrong password.
      return {
        detail,
        check: false,
        checkRead: false,
        names: [],
        repair: [],
        unrecoverable: { code: 1, error: fault === 'delete' ? /no key files.*keys\// : named },
      };
    case 'config':
      return {
        detail,
        check: false,
        checkRead: false,
        names: [],
        repair: [],
        unrecoverable: fault === 'delete' ? { code: 10, error: /no config file/ } : { code: 1, error: /config/ },
      };
  }
  throw new Error('unreachable');
}

/** Whether byte `at` of a key file's text lies in the value of its salt (or its quotes), which cannot be guessed back. */
function insideSalt(text: string, at: number): boolean {
  const m = /"salt":\s*("[^"]*")/.exec(text)!;
  const start = m.index + m[0].length - m[1].length;
  return at >= start && at < start + m[1].length;
}

/** A copy of the base repository in a fresh directory. */
function freshCase(owner?: number): { dir: string; repo: string } {
  const dir = fs.mkdtempSync(path.join(tmp, 'case-'));
  const repo = path.join(dir, 'repo');
  fs.cpSync(base, repo, { recursive: true });
  if (owner !== undefined) execFileSync('chown', ['-R', `${owner}:${owner}`, dir]);
  return { dir, repo };
}

async function restoredVersion(repo: string, snapshotId: string): Promise<1 | 2> {
  const r = await openLib(repo);
  try {
    const time = (await loadSnapshot(r, snapshotId)).time;
    const sn = layout.snapshots.find((s) => s.time === time);
    expect(sn, `restored snapshot ${snapshotId} has the time of no original snapshot`).toBeDefined();
    return sn!.version;
  } finally {
    await r.close();
  }
}

/** The whole sequence for one fault: check, check --read-data, restore, repair, check --read-data, restore. */
async function runFault(
  name: string,
  apply: (repo: string, rand: () => number) => Fault | Promise<Fault>,
  asNobody = false,
): Promise<void> {
  await slots.run(async () => {
    const { dir, repo } = freshCase(asNobody ? NOBODY : undefined);
    let seed = 0;
    for (const c of name) seed = (Math.imul(seed, 31) + c.charCodeAt(0)) >>> 0;
    const f = await apply(repo, prng(seed));
    const run = (args: string[]) => cli(['-r', repo, ...args], path.join(dir, 'cache'), asNobody);
    const outcome: string[] = [f.detail];

    const check = await run(['check']);
    if (f.unrecoverable) {
      // Nothing opens without the config or the only key: every command fails the same clear way.
      const { code, error } = f.unrecoverable;
      expect(errorLine(check, code)).toMatch(error);
      expect(check.stderr).not.toMatch(/wrong password/);
      const target = path.join(dir, 'restore');
      expect(errorLine(await run(['restore', 'latest', '--target', target]), code)).toMatch(error);
      expect(fs.existsSync(target)).toBe(false);
      expect(errorLine(await run(['repair', 'index']), code)).toMatch(error);
      results.push({
        name,
        outcome: `${f.detail}; every command exits ${code}: ${errorLine(check, code).slice(6, 110)}`,
      });
      return;
    }
    const expectCheck = (r: CliResult, ok: boolean, label: string) => {
      expect(r.code, `${label}: ${describeRun(r)}`).toBe(ok ? 0 : 1);
      if (!ok) for (const n of f.names) expect(r.out + r.stderr, `${label} must name ${n}`).toMatch(n);
      for (const s of f.checkShows ?? []) expect(r.out, `${label}: ${describeRun(r)}`).toMatch(s);
      const affected = r.out.split('\n').filter((l) => /^  snapshot [0-9a-f]{8}: /.test(l));
      expect(new Set(affected).size, `${label}: each affected file once`).toBe(affected.length);
    };
    expectCheck(check, f.check, 'check');
    const checkRead = await run(['check', '--read-data']);
    expectCheck(checkRead, f.checkRead, 'check --read-data');
    outcome.push(`check ${f.check ? 'ok' : 'FAILS'}, --read-data ${f.checkRead ? 'ok' : 'FAILS'}`);

    // Restore before any repair: correct bytes, or one error line naming what is missing and no wrong file left.
    const before = snapshotOfVersion(f.latestBefore ?? 2);
    const shouldFail = f.openError !== undefined || needs(before, f.unavailable ?? new Set());
    const t1 = path.join(dir, 'restore-before');
    const r1 = fromJson(await run(['--json', 'restore', 'latest', '--target', t1]));
    if (shouldFail) {
      const line = failureLine(r1);
      expect(r1.stderr, describeRun(r1)).toMatch((f.openError ?? f.restoreError)!);
      verifyTarget(t1, expectedRestore(before, new Set()), false);
      outcome.push(`restore fails: ${line.slice(6, 90)}…`);
    } else {
      expectOk(r1);
      expect(r1.result.snapshot_id).toBe(before.id);
      verifyTarget(t1, expectedRestore(before, new Set()), true);
      outcome.push(`restore ok (backup ${before.version})`);
    }

    if (f.repair.length === 0 && !f.fix) {
      expect(f.check && f.checkRead, 'a case without repair must pass check').toBe(true);
      results.push({ name, outcome: outcome.join('; ') });
      return;
    }
    let repairOutput = '';
    for (const cmd of f.repair) {
      const r = await run(cmd);
      expectOk(r);
      repairOutput += r.out + r.stderr;
    }
    for (const s of f.repairShows ?? []) expect(repairOutput).toMatch(s);
    f.fix?.();
    outcome.push([...f.repair.map((c) => c.join(' ')), ...(f.fix ? ['fix permissions'] : [])].join(' + '));

    const final = await run(['check', '--read-data']);
    expectOk(final);
    expect(final.out).toMatch(/no errors were found/);
    for (const s of f.finalNotShows ?? []) expect(final.out).not.toMatch(s);

    const lost = f.lost ?? new Set<string>();
    const t2 = path.join(dir, 'restore-after');
    const r2 = fromJson(await run(['--json', 'restore', 'latest', '--target', t2]));
    expectOk(r2);
    const version = await restoredVersion(repo, r2.result.snapshot_id);
    expect(version).toBe(f.latestAfter ?? 2);
    const expected = expectedRestore(snapshotOfVersion(version), lost);
    verifyTarget(t2, expected, true);
    const damaged = [...expected].filter(([, x]) => x.type === 'file' && x.damaged).map(([p]) => p);
    for (const p of damaged) expect(r2.stderr).toContain(`${p}: file was damaged`);
    const total = snapshotOfVersion(version).entries.length;
    outcome.push(
      `then check ok; restore ${expected.size}/${total} entries${damaged.length ? `, ${damaged.length} cut short` : ''}`,
    );
    results.push({ name, outcome: outcome.join('; ') });
  });
}

// ---------------------------------------------------------------------------------------------------------
// The cases

describe.concurrent('fault injection', () => {
  for (const kind of KINDS) {
    for (const fault of FAULTS) {
      if (!applies(kind, fault)) continue;
      it(
        `${kind}: ${fault}`,
        () => runFault(`${kind}: ${fault}`, (repo, rand) => applyFault(repo, kind, fault, rand)),
        CASE_TIMEOUT,
      );
    }
  }

  it(
    'a blob duplicated in two packs: check notes it, restore works, and still does after one copy is deleted',
    () =>
      slots.run(async () => {
        const { dir, repo } = freshCase();
        const run = (args: string[]) => cli(['-r', repo, ...args], path.join(dir, 'cache'));
        const lib = await openLib(repo, false);
        const sibling = await lib.sibling({ skipIndex: true, workers: 0 });
        for (const e of layout.d1.entries) await sibling.saveBlob('data', await lib.loadBlob('data', e.id), e.id);
        await sibling.flush();
        await sibling.close();
        await lib.close();
        const sn2 = snapshotOfVersion(2);
        const full = expectedRestore(sn2, new Set());

        const c1 = await run(['check', '--read-data']);
        expectOk(c1);
        expect(c1.out).toMatch(/data blob [0-9a-f]{64} is stored in 2 packs/);
        expectOk(await run(['restore', 'latest', '--target', path.join(dir, 'r1')]));
        verifyTarget(path.join(dir, 'r1'), full, true);

        fs.rmSync(packFile(repo, layout.d1.id));
        const c2 = await run(['check']);
        expect(c2.code, describeRun(c2)).toBe(1);
        expect(c2.out).toContain(`pack ${layout.d1.id} is named by the index but missing`);
        expect(c2.out).not.toMatch(/affected files/); // every blob has its other copy
        expectOk(await run(['restore', 'latest', '--target', path.join(dir, 'r2')])); // falls back to the other copy
        verifyTarget(path.join(dir, 'r2'), full, true);

        expectOk(await run(['repair', 'index']));
        const c3 = await run(['check', '--read-data']);
        expectOk(c3);
        expect(c3.out).not.toMatch(/stored in 2 packs/);
        expectOk(await run(['restore', 'latest', '--target', path.join(dir, 'r3')]));
        verifyTarget(path.join(dir, 'r3'), full, true);
        results.push({
          name: 'duplicate blob in two packs',
          outcome: `${layout.d1.entries.length} blobs duplicated; check ok with notes; restore ok; original pack deleted: check FAILS (pack missing, no file affected), restore ok; repair index; check ok; restore ok`,
        });
      }),
    CASE_TIMEOUT,
  );

  it(
    'a pack missing from the index (an interrupted backup): a note names it, repair index adopts it',
    () =>
      runFault('pack not in any index (interrupted backup)', async (repo) => {
        const lib = await openLib(repo, false);
        const indexes = await lib.listNames('index');
        await lib.saveBlob('data', randomBuffer(prng(7), 50_000));
        await lib.flush();
        const [added] = (await lib.listNames('index')).filter((n) => !indexes.includes(n));
        const [pack] = (await lib.listNames('data')).filter((p) => !layout.packs.has(p));
        await lib.backend.remove({ type: 'index', name: added });
        await lib.close();
        return {
          detail: `pack ${pack.slice(0, 8)}, 1 blob`,
          check: true,
          checkRead: true,
          names: [],
          checkShows: [new RegExp(`pack ${pack} is not in any index`)],
          repair: [['repair', 'index']],
          finalNotShows: [/not in any index/],
        };
      }),
    CASE_TIMEOUT,
  );

  it(
    'a pack dropped from an otherwise valid index: check names it, restore fails, repair index adopts it',
    () =>
      runFault('pack dropped from its index', async (repo) => {
        const lib = await openLib(repo);
        const idx = decodeIndex(await lib.loadUnpacked('index', layout.i1, AAD_INDEX), layout.i1);
        await lib.saveUnpacked(
          'index',
          encodeIndex({ supersedes: [], packs: idx.packs.filter((p) => p.pack !== layout.d1.id) }),
          AAD_INDEX,
        );
        await lib.backend.remove({ type: 'index', name: layout.i1 });
        await lib.close();
        return {
          detail: `data pack ${layout.d1.id.slice(0, 8)} left out`,
          check: false,
          checkRead: false,
          names: [re(layout.d1.id)],
          checkShows: [/not in any index/],
          unavailable: blobsOf(layout.d1),
          restoreError: /data blob [0-9a-f]{64}.* is not in the index/,
          repair: [['repair', 'index']],
          finalNotShows: [/not in any index/],
        };
      }),
    CASE_TIMEOUT,
  );

  it(
    'key: bit flip in one of two key files: the other password opens, check names the file, key remove fixes it',
    () =>
      slots.run(async () => {
        const { dir, repo } = freshCase();
        const second = 'the second password';
        const lib = await openLib(repo);
        const k2 = await addKey(lib, second, { kdf: CHEAP_TEST_SCRYPT });
        await lib.close();
        const k1 = layout.key;
        flipBit(path.join(repo, 'keys', k1), 100, 2);
        const run = (args: string[], password = second) =>
          cli(['-r', repo, ...args], path.join(dir, 'cache'), false, password);

        const c1 = await run(['check']);
        expect(c1.code, describeRun(c1)).toBe(1);
        expect(c1.out).toContain(`key file keys/${k1}`);
        expect(c1.out).not.toContain(`keys/${k2}`);
        expectOk(await run(['restore', 'latest', '--target', path.join(dir, 'r1')]));
        verifyTarget(path.join(dir, 'r1'), expectedRestore(snapshotOfVersion(2), new Set()), true);
        // The first password's own key file is the damaged one: it fails with one line, whatever that line says.
        const own = await run(['snapshots'], PASSWORD);
        const ownLine = errorLine(own, own.code ?? 1);
        expect(own.code).not.toBe(0);

        expectOk(await run(['key', 'remove', k1.slice(0, 12)]));
        expectOk(await run(['check', '--read-data']));
        results.push({
          name: 'key: bit flip in one of two key files',
          outcome: `check FAILS naming keys/${k1.slice(0, 8)}…; restore with the other password ok; the damaged key's own password: exit ${own.code} "${ownLine.slice(6)}"; key remove; check ok`,
        });
      }),
    CASE_TIMEOUT,
  );

  // As root, permissions mean nothing: those cases run the CLI as nobody (setpriv), if nobody can reach node and the files.
  const permissionCase = !IS_ROOT || HAVE_SETPRIV ? it : it.skip;
  const how = IS_ROOT ? ' (run as nobody via setpriv)' : ' (as this user)';
  permissionCase(
    `permission denied on a data pack${how}: named by check and restore, kept by repair index`,
    (ctx) =>
      nobodyBlocked()
        ? ctx.skip()
        : runFault(
            'data pack: permission denied',
            (repo) => {
              const file = packFile(repo, layout.d1.id);
              fs.chmodSync(file, 0);
              return {
                detail: 'chmod 000',
                check: false,
                checkRead: false,
                names: [re(layout.d1.id), /permission denied/],
                unavailable: blobsOf(layout.d1),
                restoreError: new RegExp(`permission denied.*${layout.d1.id}`),
                // Unreadable is not damaged: rebuilding the index, even reading every pack, must not drop it.
                repair: [
                  ['repair', 'index'],
                  ['repair', 'index', '--read-all-packs'],
                ],
                repairShows: [new RegExp(`pack ${layout.d1.id} cannot be read and was kept in the index as it was`)],
                fix: () => fs.chmodSync(file, 0o600),
              };
            },
            IS_ROOT,
          ),
    CASE_TIMEOUT,
  );

  permissionCase(
    `permission denied on an index file${how}: named by check and restore, repair index rebuilds it`,
    (ctx) =>
      nobodyBlocked()
        ? ctx.skip()
        : runFault(
            'index: permission denied',
            (repo) => {
              const file = path.join(repo, 'index', layout.i1);
              fs.chmodSync(file, 0);
              return {
                detail: 'chmod 000',
                check: false,
                checkRead: false,
                names: [re(`index/${layout.i1}`), /permission denied/],
                openError: new RegExp(`permission denied.*index/${layout.i1}`),
                repair: [['repair', 'index']],
              };
            },
            IS_ROOT,
          ),
    CASE_TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------
// Hostile repositories: crafted trees restored through the CLI must fail with one line and write nothing outside

describe.concurrent('hostile repository through the CLI', () => {
  let hostile: string;
  let absOutside: string; // an absolute symlink target outside every target directory
  let lib: Repository;
  const snaps = new Map<string, string>();
  const hostileRand = prng(99);

  beforeAll(async () => {
    hostile = path.join(tmp, 'hostile');
    absOutside = path.join(tmp, 'abs-outside');
    fs.mkdirSync(absOutside);
    fs.writeFileSync(path.join(absOutside, 'secret'), 'original');
    lib = await Repository.init(await LocalBackend.createAt(hostile), PASSWORD, { kdf: CHEAP_TEST_SCRYPT, workers: 0 });
    const empty = { content: [] as string[] };
    const add = async (label: string, tree: string) => snaps.set(label, (await snapshotOf(lib, tree)).id);
    await add('..', await rawTree(lib, [rawNode('..', 'file', empty), rawNode('ok', 'file', empty)]));
    const inner = await rawTree(lib, [rawNode('../escape', 'file', empty)]);
    await add(
      '../escape in a subdirectory',
      await rawTree(lib, [rawNode('a', 'file', empty), rawNode('d', 'dir', { subtree: inner })]),
    );
    await add('an absolute name', await rawTree(lib, [rawNode('/tmp/evil-absolute', 'file', empty)]));
    await add(
      'a raw name decoding to ..',
      await rawTree(lib, [
        { ...rawNode('', 'file', empty), name: undefined, name_raw: Buffer.from('..').toString('base64') },
      ]),
    );
    await add('a NUL in a name', await rawTree(lib, [rawNode('x\u0000y', 'file', empty)]));
    await add('"." as a name', await rawTree(lib, [rawNode('.', 'dir', { subtree: inner })]));
    const secret = await fileNode(lib, 'secret', Buffer.from('evil'));
    const secretDir = await rawTree(lib, [{ ...rawNode('secret', 'file', { content: secret.content, size: 4 }) }]);
    // A symlink out of the target and a directory of the same name: writing "esc/secret" would go through the link.
    await add(
      'a symlink and a directory sharing a name',
      await rawTree(lib, [
        rawNode('esc', 'symlink', { linktarget: '../outside' }),
        rawNode('esc', 'dir', { subtree: secretDir }),
      ]),
    );
    await add(
      'symlinks out',
      await saveTreeOf([
        node('abs', 'symlink', { linktarget: Buffer.from(absOutside) }),
        node('esc', 'symlink', { linktarget: Buffer.from('../outside') }),
      ]),
    );
    await add(
      'directories where the links were',
      await rawTree(lib, [
        rawNode('abs', 'dir', { subtree: secretDir }),
        rawNode('esc', 'dir', { subtree: secretDir }),
      ]),
    );
    await lib.flush();
  });
  afterAll(async () => {
    await lib?.close();
  });

  const saveTreeOf = async (nodes: ReturnType<typeof node>[]) => (await saveTree(lib, nodes)).id;

  /** A case directory with target/ (not yet created) and outside/secret beside it. */
  function arena(): { dir: string; target: string; untouched: () => void } {
    const dir = fs.mkdtempSync(path.join(tmp, 'hostile-case-'));
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    const secretBytes = randomBuffer(hostileRand, 64);
    fs.writeFileSync(path.join(outside, 'secret'), secretBytes);
    return {
      dir,
      target: path.join(dir, 'target'),
      untouched: () => {
        expect(
          fs
            .readdirSync(dir)
            .filter((n) => n !== 'target')
            .sort(),
        ).toEqual(['outside']);
        expect(fs.readdirSync(outside)).toEqual(['secret']);
        expect(fs.readFileSync(path.join(outside, 'secret')).equals(secretBytes)).toBe(true);
        expect(fs.existsSync('/tmp/evil-absolute')).toBe(false);
        expect(fs.readdirSync(absOutside)).toEqual(['secret']);
        expect(fs.readFileSync(path.join(absOutside, 'secret'), 'utf8')).toBe('original');
      },
    };
  }

  for (const [label, message] of [
    ['..', /snapshot [0-9a-f]{8} tree [0-9a-f]{64} node "\.\.": unsafe name/],
    ['../escape in a subdirectory', /node "\.\.\/escape": unsafe name/],
    ['an absolute name', /node "\/tmp\/evil-absolute": unsafe name/],
    ['a raw name decoding to ..', /node "\.\.": unsafe name/],
    ['a NUL in a name', /unsafe name/],
    ['"." as a name', /node "\.": unsafe name/],
    ['a symlink and a directory sharing a name', /node "esc": name occurs more than once in the tree/],
  ] as const) {
    it(
      `refuses the node of a tree with ${label}: exit 1, a line naming snapshot, tree and node, nothing written outside`,
      () =>
        slots.run(async () => {
          const a = arena();
          const r = await cli(
            ['-r', hostile, 'restore', snaps.get(label)!, '--target', a.target],
            path.join(tmp, 'cache-hostile'),
          );
          // The refused node is named on standard error and left out; the rest of the snapshot is restored (spec §9.1).
          expect(r.code, describeRun(r)).toBe(1);
          const lines = r.stderr.split('\n').filter((l) => l !== '');
          expect(
            lines.filter((l) => !l.startsWith('repo: ') && !l.startsWith('warning: ')),
            describeRun(r),
          ).toEqual([]);
          const line = lines.find((l) => message.test(l));
          expect(line, describeRun(r)).toBeDefined();
          expect(line).toMatch(/tree [0-9a-f]{64}/);
          a.untouched();
          results.push({ name: `hostile: ${label}`, outcome: `restore exit 1, node refused: ${line!.slice(0, 100)}` });
        }),
      CASE_TIMEOUT,
    );
  }

  it(
    'restores symlinks pointing out as links, and never writes through them when a later snapshot has directories there',
    () =>
      slots.run(async () => {
        const a = arena();
        expectOk(
          await cli(
            ['-r', hostile, 'restore', snaps.get('symlinks out')!, '--target', a.target],
            path.join(tmp, 'cache-hostile'),
          ),
        );
        expect(fs.readlinkSync(path.join(a.target, 'esc'))).toBe('../outside');
        expect(fs.readlinkSync(path.join(a.target, 'abs'))).toBe(absOutside);
        a.untouched();
        for (const overwrite of ['never', 'if-changed', 'always']) {
          const r = await cli(
            [
              '-r',
              hostile,
              'restore',
              snaps.get('directories where the links were')!,
              '--target',
              a.target,
              '--overwrite',
              overwrite,
            ],
            path.join(tmp, 'cache-hostile'),
          );
          expectOk(r);
          a.untouched();
        }
        expect(fs.lstatSync(path.join(a.target, 'esc')).isDirectory()).toBe(true);
        expect(fs.readFileSync(path.join(a.target, 'esc', 'secret'), 'utf8')).toBe('evil');
        expect(fs.readFileSync(path.join(a.target, 'abs', 'secret'), 'utf8')).toBe('evil');
        results.push({
          name: 'hostile: symlinks out, then directories there',
          outcome: 'restored as links; later restores replace them, outside untouched',
        });
      }),
    CASE_TIMEOUT,
  );

  for (const [label, sub, message] of [
    ['a sub-path with ..', '../../outside', /not found in snapshot/],
    ['a sub-path through a symlink', 'esc/secret', /"esc" is not a directory/],
  ] as const) {
    it(
      `refuses ${label}: exit 1, one line, nothing written`,
      () =>
        slots.run(async () => {
          const a = arena();
          const r = await cli(
            ['-r', hostile, 'restore', `${snaps.get('symlinks out')!}:${sub}`, '--target', a.target],
            path.join(tmp, 'cache-hostile'),
          );
          expect(errorLine(r)).toMatch(message);
          expect(fs.existsSync(a.target)).toBe(false);
          a.untouched();
          results.push({ name: `hostile: ${label}`, outcome: `restore exit 1: ${errorLine(r).slice(6, 100)}` });
        }),
      CASE_TIMEOUT,
    );
  }
});
