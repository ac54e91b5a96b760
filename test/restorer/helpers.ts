// Test helpers for the restorer: a memory repository, hand-built trees and snapshots, temp directories.
// Must never depend on the archiver (not written yet); snapshots are assembled from blobs and trees directly.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MemoryBackend } from '../../src/backend/memory.js';
import { idToHex } from '../../src/core/id.js';
import { CHEAP_TEST_SCRYPT } from '../../src/crypto/kdf.js';
import { Repository } from '../../src/repository/repository.js';
import { saveSnapshot, type StoredSnapshot } from '../../src/snapshot/snapshot.js';
import type { NodeType, TreeNode } from '../../src/tree/node.js';
import { saveTree } from '../../src/tree/tree-store.js';

const run = promisify(execFile);

export const MTIME = '2021-06-07T08:09:10.123456789Z';
export const ATIME = '2022-01-02T03:04:05.987654321Z';

export async function newRepo(): Promise<{ backend: MemoryBackend; repo: Repository }> {
  const backend = new MemoryBackend();
  const repo = await Repository.init(backend, 'pw', { kdf: CHEAP_TEST_SCRYPT });
  return { backend, repo };
}

/** Deterministic bytes (xorshift), incompressible enough that blobs keep their size. */
export function bytes(size: number, seed: number): Buffer {
  let x = seed >>> 0 || 1;
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Saves `data` as blobs cut at the given sizes (the rest is one last blob); returns hex ids. */
export async function saveContent(repo: Repository, data: Buffer, cuts: number[] = []): Promise<string[]> {
  const ids: string[] = [];
  let at = 0;
  for (const n of [...cuts, data.length]) {
    if (at >= data.length) break;
    const piece = data.subarray(at, Math.min(data.length, at + n));
    ids.push(idToHex((await repo.saveBlob('data', piece)).id));
    at += piece.length;
  }
  return ids;
}

export function name(n: string | Buffer): Buffer {
  return typeof n === 'string' ? Buffer.from(n) : n;
}

export function node(n: string | Buffer, type: NodeType, extra: Partial<TreeNode> = {}): TreeNode {
  return {
    name: name(n),
    type,
    mode: type === 'dir' ? 0o755 : 0o644,
    mtime: MTIME,
    atime: ATIME,
    ctime: MTIME,
    uid: 0,
    gid: 0,
    ...extra,
  };
}

export async function fileNode(
  repo: Repository,
  n: string | Buffer,
  data: Buffer,
  extra: Partial<TreeNode> = {},
  cuts: number[] = [],
): Promise<TreeNode> {
  return node(n, 'file', { size: data.length, content: await saveContent(repo, data, cuts), ...extra });
}

export async function dirNode(
  repo: Repository,
  n: string | Buffer,
  children: TreeNode[],
  extra: Partial<TreeNode> = {},
): Promise<TreeNode> {
  const t = await saveTree(repo, children);
  return node(n, 'dir', { subtree: t.id, ...extra });
}

/** Saves a tree blob from raw JSON nodes, bypassing encodeTree's checks (for hostile trees). */
export async function rawTree(repo: Repository, nodes: Record<string, unknown>[]): Promise<string> {
  const r = await repo.saveBlob('tree', Buffer.from(JSON.stringify({ nodes })));
  return idToHex(r.id);
}

export function rawNode(n: string, type: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: n,
    type,
    mode: type === 'dir' ? 0o755 : 0o644,
    mtime: MTIME,
    atime: ATIME,
    ctime: MTIME,
    uid: 0,
    gid: 0,
    ...extra,
  };
}

export async function snapshotOf(repo: Repository, rootTree: string | TreeNode[]): Promise<StoredSnapshot> {
  const tree = typeof rootTree === 'string' ? rootTree : (await saveTree(repo, rootTree)).id;
  await repo.flush();
  const sn = { time: MTIME, tree, paths: ['/src'], hostname: 'h', username: 'u', tags: [], program_version: 'test' };
  const id = await saveSnapshot(repo, sn);
  return { ...sn, id };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'restorer-test-'));
  const cleanup = async () => {
    // Restored read-only directories would stop a non-root rm; chmod -R does not follow symlinks.
    await run('chmod', ['-R', 'u+rwx', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  return { dir, cleanup };
}
