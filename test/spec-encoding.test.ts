// spec/repository-format.md is exact for writers: an encoder written here from the spec's rules alone (§3.1, §4, §5,
// §9, §10; it imports nothing that encodes) reproduces the bytes and ids of every tree, snapshot, config and key file
// of the committed fixture and of a fresh repository with hostile names; compressed blobs are one zstd frame as §6
// states; and Appendix A's gear table and test vectors are what the shipped chunker uses.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupPaths, backupStream } from '../src/archiver/index.js';
import { LocalBackend } from '../src/backend/local.js';
import { fastcdcBoundaries } from '../src/chunker/index.js';
import { blake3, keyedBlake3 } from '../src/crypto/blake3.js';
import { AAD_CONFIG, AAD_SNAPSHOT, blobAad } from '../src/repository/aad.js';
import { Repository } from '../src/repository/repository.js';
import { localRepo, tempDir } from './helpers/repo.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const SPEC = fs.readFileSync(path.join(here, '../spec/repository-format.md'), 'utf8');
const FIXTURE_PASSWORD = JSON.parse(fs.readFileSync(path.join(here, 'fixtures/repo-v1.json'), 'utf8')).password;
const work = tempDir('spec-encoding-');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// ---- The encoder, from §3.1 ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function base64(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[n >> 18] + B64[(n >> 12) & 63];
    out += i + 1 < b.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < b.length ? B64[n & 63] : '=';
  }
  return out;
}

const SHORT: Record<number, string> = {
  8: '\\b',
  9: '\\t',
  10: '\\n',
  12: '\\f',
  13: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
};
function str(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (SHORT[u] !== undefined) out += SHORT[u];
    else if (u < 0x20) out += '\\u' + u.toString(16).padStart(4, '0');
    else if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out += s[i] + s[i + 1]; // a surrogate pair is one code point: raw
      i++;
    } else if (u >= 0xd800 && u <= 0xdfff) out += '\\u' + u.toString(16).padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

function num(n: unknown): string {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new Error(`not a spec number: ${String(n)}`);
  let out = '';
  let v = n;
  do {
    out = String.fromCharCode(48 + (v % 10)) + out;
    v = Math.floor(v / 10);
  } while (v > 0);
  return out;
}

/** Any value; objects only with the members `orders[key]` lists (in that order), unknown members are an error. */
function encode(v: unknown, order: readonly string[] | undefined, orders: Record<string, readonly string[]>): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return num(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return '[' + v.map((x) => encode(x, undefined, orders)).join(',') + ']';
  if (typeof v === 'object' && v !== null) {
    if (order === undefined) throw new Error('an object where the spec names none');
    const o = v as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !order.includes(k));
    if (unknown.length > 0) throw new Error(`members the spec does not list: ${unknown.join(', ')}`);
    const parts = order.filter((k) => o[k] !== undefined).map((k) => `${str(k)}:${encode(o[k], orders[k], orders)}`);
    return '{' + parts.join(',') + '}';
  }
  throw new Error(`not encodable: ${String(v)}`);
}

// §9's table, in order.
const NODE = [
  'name',
  'name_raw',
  'type',
  'mode',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'user',
  'group',
  'inode',
  'device_id',
  'links',
  'size',
  'linktarget',
  'linktarget_raw',
  'rdev',
  'content',
  'subtree',
  'error',
];
// §10.
const SNAPSHOT = [
  'time',
  'tree',
  'paths',
  'tree_layout',
  'hostname',
  'username',
  'uid',
  'gid',
  'tags',
  'program_version',
  'summary',
  'parent',
  'excludes',
  'original',
];
const SUMMARY = [
  'backup_start',
  'backup_end',
  'files_new',
  'files_changed',
  'files_unmodified',
  'dirs_new',
  'dirs_changed',
  'dirs_unmodified',
  'data_blobs',
  'tree_blobs',
  'data_added',
  'data_added_packed',
  'total_files_processed',
  'total_bytes_processed',
];
const CONFIG = ['version', 'id', 'chunker', 'compression', 'pack_size', 'created'];
const CHUNKER = ['algorithm', 'min', 'avg', 'max'];
const KEY_FILE = ['version', 'kdf', 'N', 'r', 'p', 'salt', 'created', 'hostname', 'username', 'data'];

const utf8 = new TextDecoder('utf-8', { fatal: true });
function validUtf8(b: Uint8Array): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A node from its bytes (name and link target as raw bytes), re-encoded by the spec's rules. */
function encodeTree(nodes: { name: Buffer; target?: Buffer; members: Record<string, unknown> }[]): Buffer {
  const sorted = [...nodes].sort((a, b) => Buffer.compare(a.name, b.name));
  const json = sorted.map(({ name, target, members }) => {
    const o: Record<string, unknown> = { ...members, name: undefined, name_raw: undefined };
    if (validUtf8(name)) o.name = utf8.decode(name);
    else o.name_raw = base64(name);
    if (target !== undefined) {
      o.linktarget = validUtf8(target) ? utf8.decode(target) : undefined;
      o.linktarget_raw = validUtf8(target) ? undefined : base64(target);
    }
    return encode(o, NODE, {});
  });
  return Buffer.from('{"nodes":[' + json.join(',') + ']}', 'utf8');
}

/** What a reader takes from a stored node: the raw name and target bytes and the other members' values. */
function fromStored(n: Record<string, unknown>) {
  const bytes = (plain: unknown, raw: unknown) =>
    typeof plain === 'string'
      ? Buffer.from(plain, 'utf8')
      : raw === undefined
        ? undefined
        : Buffer.from(raw as string, 'base64');
  const { name, name_raw, linktarget, linktarget_raw, ...members } = n;
  return { name: bytes(name, name_raw)!, target: bytes(linktarget, linktarget_raw), members };
}

const NODE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
const SNAPSHOT_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}000000(Z|[+-]\d\d:\d\d)$/;
const MS_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** §6: one frame, no dictionary, no checksum, content size present and equal to the raw length, nothing after. */
function checkZstdFrame(f: Buffer, rawLength: number): void {
  expect(f.readUInt32LE(0)).toBe(0xfd2fb528);
  const fhd = f[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  expect((fhd >> 2) & 1).toBe(0); // Content_Checksum_flag
  expect(fhd & 3).toBe(0); // Dictionary_ID_flag
  let pos = 5 + (single ? 0 : 1);
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  expect(fcsSize).toBeGreaterThan(0);
  let fcs = 0;
  for (let i = fcsSize - 1; i >= 0; i--) fcs = fcs * 256 + f[pos + i];
  if (fcsSize === 2) fcs += 256;
  expect(fcs).toBe(rawLength);
  pos += fcsSize;
  for (;;) {
    const h = f[pos] | (f[pos + 1] << 8) | (f[pos + 2] << 16);
    const type = (h >> 1) & 3;
    expect(type).not.toBe(3);
    pos += 3 + (type === 1 ? 1 : h >> 3);
    if (h & 1) break;
  }
  expect(pos).toBe(f.length);
}

interface Checked {
  trees: number;
  compressed: number;
  snapshots: number;
  nodes: Record<string, unknown>[];
}

/** Re-encodes every tree, snapshot, the config and the key files of the repository at `dir`. */
async function checkRepository(dir: string, password: string): Promise<Checked> {
  const repo = await Repository.open(await LocalBackend.open(dir), password, { workers: 0 });
  const out: Checked = { trees: 0, compressed: 0, snapshots: 0, nodes: [] };
  try {
    const idKey = repo.key.bytes().subarray(32, 64);
    for (const e of repo.index.entries()) {
      const stored = await repo.loadPackRange(e.pack, e.offset, e.storedLength);
      const inner = repo.key.encryption.open(stored, blobAad(e.type, e.id));
      if (e.compression === 1) {
        checkZstdFrame(inner, e.rawLength);
        out.compressed++;
      } else expect(inner.length).toBe(e.rawLength);
      if (e.type !== 'tree') continue;
      const plain = await repo.loadBlobAt(e);
      const nodes = (JSON.parse(plain.toString('utf8')) as { nodes: Record<string, unknown>[] }).nodes;
      const again = encodeTree(nodes.map(fromStored));
      expect(again.toString('utf8')).toBe(plain.toString('utf8'));
      expect(again.equals(plain)).toBe(true);
      expect(keyedBlake3(idKey, again).equals(e.id)).toBe(true);
      for (const n of nodes) {
        for (const t of ['mtime', 'atime', 'ctime']) if (n[t] !== undefined) expect(n[t]).toMatch(NODE_TIME);
        if (n.type === 'file') expect(Array.isArray(n.content)).toBe(true);
      }
      out.nodes.push(...nodes);
      out.trees++;
    }
    for (const name of await repo.listNames('snapshots')) {
      const plain = await repo.loadUnpacked('snapshots', name, AAD_SNAPSHOT); // checks the storage id too
      const sn = JSON.parse(plain.toString('utf8'));
      expect(encode(sn, SNAPSHOT, { summary: SUMMARY })).toBe(plain.toString('utf8'));
      expect(sn.time).toMatch(SNAPSHOT_TIME);
      expect(sn.tags).toBeInstanceOf(Array);
      if (sn.summary) for (const t of ['backup_start', 'backup_end']) expect(sn.summary[t]).toMatch(MS_TIME);
      out.snapshots++;
    }
    const config = repo.key.encryption.open(await repo.backend.load({ type: 'config', name: 'config' }), AAD_CONFIG);
    const c = JSON.parse(config.toString('utf8'));
    expect(encode(c, CONFIG, { chunker: CHUNKER })).toBe(config.toString('utf8'));
    expect(c.created).toMatch(MS_TIME);
    for (const name of await repo.listNames('keys')) {
      const bytes = await repo.backend.load({ type: 'keys', name });
      expect(blake3(bytes).toString('hex')).toBe(name);
      const k = JSON.parse(bytes.toString('utf8'));
      expect(Object.keys(k)).toEqual(KEY_FILE);
      const pretty = '{\n' + KEY_FILE.map((m) => `  ${str(m)}: ${encode(k[m], undefined, {})}`).join(',\n') + '\n}\n';
      expect(pretty).toBe(bytes.toString('utf8'));
      expect(base64(Buffer.from(k.salt, 'base64'))).toBe(k.salt);
      expect(base64(Buffer.from(k.data, 'base64'))).toBe(k.data);
      expect(k.created).toMatch(MS_TIME);
    }
  } finally {
    await repo.close();
  }
  return out;
}

describe('spec/repository-format.md is exact for writers', () => {
  it('re-encodes every tree, snapshot, config and key file of the fixture repository', async () => {
    const r = await checkRepository(path.join(here, 'fixtures/repo-v1'), FIXTURE_PASSWORD);
    expect(r).toMatchObject({ trees: 5, snapshots: 2 });
    expect(r.compressed).toBeGreaterThan(5);
    // Written before symlinks lost their atime (§9): readers accept it, and its id depends on it.
    expect(r.nodes.filter((n) => n.type === 'symlink').map((n) => n.atime !== undefined)).toEqual([true]);
    expect(r.nodes.find((n) => n.name === 'empty')).toMatchObject({ size: 0, content: [] });
    expect(r.nodes.some((n) => n.name_raw !== undefined)).toBe(true);
    // §10's standard-input node.
    expect(Object.keys(r.nodes.find((n) => n.name === 'dump.sql')!)).toEqual([
      ...['name', 'type', 'mode', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'size', 'content'],
    ]);
  });

  it('re-encodes a fresh repository whose names need every escaping rule', async () => {
    const root = path.join(work, 'src');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    const names = [
      'a"quote',
      'back\\slash',
      'new\nline',
      'ctl\x01\x1f\x7f',
      'tab\there',
      'é-ünï',
      'sep\u2028x',
      'emoji😀',
    ];
    for (const n of names) fs.writeFileSync(path.join(root, n), n);
    fs.writeFileSync(path.join(root, 'sub', 'empty'), '');
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'sub', 'raw-')), Buffer.from([0xff, 0x80])]), 'x');
    fs.symlinkSync('tárget\n"', path.join(root, 'link'));
    fs.symlinkSync(Buffer.from([0x74, 0xfe]) as unknown as string, path.join(root, 'rawlink'));
    const dir = path.join(work, 'repo');
    // Format 1, the format this spec describes for writers (format 2 adds a padding frame: spec/format-2.md).
    const repo = await localRepo(dir, { workers: 0, format: 1 });
    await backupPaths(repo, [root], { host: 'h\u0007"ost', tags: [] });
    async function* stdin() {
      yield Buffer.from('');
    }
    await backupStream(repo, stdin(), 'empty.sql', { tags: ['t1', 't"2'] });
    await repo.close();
    const r = await checkRepository(dir, 'correct horse battery staple');
    expect(r.snapshots).toBe(2);
    for (const n of r.nodes) if (n.type === 'dir' || n.type === 'symlink') expect(n.atime).toBeUndefined();
    expect(r.nodes.filter((n) => n.linktarget_raw !== undefined)).toHaveLength(1);
    expect(r.nodes.filter((n) => n.name_raw !== undefined)).toHaveLength(1);
    expect(r.nodes.find((n) => n.name === 'empty.sql')).toMatchObject({ size: 0, content: [] });
  });

  it("Appendix A's gear table is the chunker's, and its test vectors are the chunker's cuts", () => {
    const block = (tag: string) => new RegExp('```' + tag + '\\n([\\s\\S]*?)```').exec(SPEC)![1];
    const table = block('gear-table').trim().split(/\s+/).map(Number);
    expect(table).toHaveLength(256);
    const le = Buffer.alloc(1024);
    table.forEach((v, i) => le.writeUInt32LE(v, 4 * i));
    expect(createHash('sha256').update(le).digest('hex')).toBe(
      'd499f6cdb238b999913ce6bc226452991b403b71cb0b144ca82ecf6e2ce2032a',
    );
    const require = createRequire(import.meta.url);
    const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('fastcdc-wasm')), 'fastcdc_wasm_bg.wasm'));
    expect(wasm.indexOf(le)).toBeGreaterThanOrEqual(0);

    const x = Buffer.alloc(1 << 20);
    let s = 1;
    for (let i = 0; i < x.length; i += 4) {
      s = (s ^ (s << 13)) >>> 0;
      s = (s ^ (s >>> 17)) >>> 0;
      s = (s ^ (s << 5)) >>> 0;
      x.writeUInt32LE(s, i);
    }
    expect(createHash('sha256').update(x).digest('hex')).toBe(
      '0ecb850fce5b65a04282a0faa4bb46b985c9726dbca042e0bbc83a31f10f03ff',
    );
    const lines = block('gear-vectors').trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const [head, cuts] = line.split(':');
      const [min, avg, max, n] = head.split(' ').map(Number);
      const got = fastcdcBoundaries(x.subarray(0, n), { algorithm: 'fastcdc-ronomon', min, avg, max });
      expect(Array.from(got).join(' '), head).toBe(cuts.trim());
    }
  });
});
