// PostgreSQL WAL archiving into a profile's repository (spec §16): `repo wal push` for archive_command and
// `repo wal fetch` for restore_command. Each WAL segment, timeline history file or backup history file is
// one snapshot made of one file, tagged "pg-wal", so format-1 readers, check, copy and prune handle it
// like any other snapshot; nothing new is stored.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { backupStream } from '../archiver/index.js';
import { RepoError } from '../core/errors.js';
import { idFromHex } from '../core/id.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, type StoredSnapshot } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';
import { blake3 } from '../crypto/index.js';
import type { ProfileConfig } from './config.js';
import { isWalName } from './pg-wal-name.js';
import { fileIdentity } from './pg-wal-spool.js';
import { profileHost } from './repos.js';

export { isWalName };

/** The tag every archived WAL file's snapshot carries. */
export const WAL_TAG = 'pg-wal';

export function checkWalName(name: string): void {
  if (!isWalName(name)) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(name)} is not a WAL file name (24 hex digits, a timeline .history file, a .backup or .partial file)`,
    );
  }
}

/** The WAL snapshots of a profile: its host, tag "pg-wal", one path "/<WAL file name>". */
export function walSnapshots(all: StoredSnapshot[], profile: ProfileConfig): Map<string, StoredSnapshot> {
  return walSnapshotsOfHost(all, profileHost(profile));
}

/** The WAL snapshots of one host by file name (the newest snapshot when a name was archived twice). */
export function walSnapshotsOfHost(all: StoredSnapshot[], host: string): Map<string, StoredSnapshot> {
  const out = new Map<string, StoredSnapshot>();
  for (const sn of all) {
    if (sn.hostname !== host || !sn.tags.includes(WAL_TAG) || sn.paths.length !== 1) continue;
    const name = sn.paths[0].slice(1);
    if (!isWalName(name)) continue;
    const prev = out.get(name);
    if (prev === undefined || prev.time < sn.time) out.set(name, sn);
  }
  return out;
}

/** The stored bytes of a one-file snapshot (a WAL file or a base backup stream), verified against the index lengths. */
export async function* snapshotFileBytes(repo: Repository, sn: StoredSnapshot): AsyncIterable<Buffer> {
  const tree = await loadTree(repo, sn.tree);
  const name = sn.paths[0].slice(1);
  const node = tree.nodes.find((n) => n.type === 'file' && n.name.toString() === name);
  if (node === undefined)
    throw new RepoError('INTEGRITY', `snapshot ${sn.id}: its tree has no file ${name}`, { snapshot: sn.id });
  let written = 0;
  for (const hex of node.content ?? []) {
    const buf = await repo.loadBlob('data', idFromHex(hex));
    written += buf.length;
    yield buf;
  }
  if (written !== node.size)
    throw new RepoError('INTEGRITY', `snapshot ${sn.id}: ${name} holds ${written} bytes, its tree says ${node.size}`, {
      snapshot: sn.id,
    });
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

export interface PushResult {
  name: string;
  /** "stored": a new snapshot; "present": the same bytes were already archived (PostgreSQL retried). */
  outcome: 'stored' | 'present';
  snapshotId: string;
  bytes: number;
  /** SHA-256 of the file's bytes (hex): what an asynchronous push acknowledges (ops/pg-wal-spool.ts). */
  sha256: string;
  /** The file's identity while it was read (pg-wal-spool.ts fileIdentity), if it did not change meanwhile. */
  identity?: string;
  addedPacked: number;
}

/**
 * Archives the WAL file at `file`. Idempotent: archived before with the same bytes → success without
 * writing; with different bytes → an error (PostgreSQL keeps the segment and retries, and the operator
 * sees the message in the server log), never an overwrite. The snapshot is written only after all of its
 * data is in the repository, so a failure leaves nothing that `fetch` would return.
 */
export async function pushWal(
  repo: Repository,
  profile: ProfileConfig,
  file: string,
  signal?: AbortSignal,
  known?: Map<string, StoredSnapshot>,
): Promise<PushResult> {
  const name = file.slice(file.lastIndexOf('/') + 1);
  checkWalName(name);
  const unreadable = (err: NodeJS.ErrnoException) => {
    throw new RepoError('INVALID_ARGUMENT', `cannot read WAL file ${file}: ${err.message}`, { path: file });
  };
  const before = await fileIdentity(file).catch(unreadable);
  const data = await readFile(file).catch(unreadable);
  // Recorded only when nothing changed while the file was read: then `data` is what the identity names.
  const identity = (await fileIdentity(file).catch(unreadable)) === before ? before : undefined;
  // A long-running pusher passes the WAL snapshots it listed once (and adds what it stores), so a batch
  // does not read every snapshot file again for each segment.
  const existing = (known ?? walSnapshots(await listSnapshots(repo), profile)).get(name);
  if (existing !== undefined) {
    const stored = await readAll(snapshotFileBytes(repo, existing));
    if (stored.equals(data))
      return {
        name,
        outcome: 'present',
        snapshotId: existing.id,
        bytes: data.length,
        sha256: sha256Hex(data),
        identity,
        addedPacked: 0,
      };
    throw new RepoError(
      'INVALID_ARGUMENT',
      `WAL file ${name} is already archived (snapshot ${existing.id.slice(0, 8)}) with different content (blake3 ${Buffer.from(blake3(stored)).toString('hex').slice(0, 16)}…, this one ${Buffer.from(blake3(data)).toString('hex').slice(0, 16)}…): refusing to overwrite; is a second server archiving into the same profile?`,
      { path: file, snapshot: existing.id },
    );
  }
  // The snapshot's summary counts what this one segment added, also in a pusher that stores many.
  Object.assign(repo.stats, {
    blobsAdded: 0,
    rawBytesAdded: 0,
    storedBytesAdded: 0,
    packsWritten: 0,
    indexFilesWritten: 0,
  });
  const res = await backupStream(
    repo,
    (async function* () {
      yield data;
    })(),
    name,
    { tags: [WAL_TAG, ...profile.tags], host: profile.host, signal },
  );
  known?.set(name, { ...res.snapshot, id: res.snapshotId! });
  return {
    name,
    outcome: 'stored',
    snapshotId: res.snapshotId!,
    bytes: data.length,
    sha256: sha256Hex(data),
    identity,
    addedPacked: res.snapshot.summary!.data_added_packed,
  };
}

/** Finds the archived WAL file `name`, or undefined (restore_command then exits non-zero: "not archived"). */
export async function findWal(
  repo: Repository,
  profile: ProfileConfig,
  name: string,
): Promise<StoredSnapshot | undefined> {
  checkWalName(name);
  return walSnapshots(await listSnapshots(repo), profile).get(name);
}
