// `list blobs|packs|index|snapshots|keys|locks`: the ids of one kind of repository object, as restic lists them.
// Reads only listings and the loaded index (and, for `packs SNAPSHOT`, that snapshot's trees); never writes.

import type { FileType } from '../backend/backend.js';
import { idFromHex, idToHex } from '../core/id.js';
import type { BlobType } from '../repository/blob.js';
import type { Repository } from '../repository/repository.js';
import type { StoredSnapshot } from '../snapshot/snapshot.js';
import { loadTree } from '../tree/tree-store.js';
import { walkTree } from '../tree/walk.js';

export const LIST_KINDS = ['blobs', 'packs', 'index', 'snapshots', 'keys', 'locks'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

const FILE_TYPE: Record<Exclude<ListKind, 'blobs'>, FileType> = {
  packs: 'data',
  index: 'index',
  snapshots: 'snapshots',
  keys: 'keys',
  locks: 'locks',
};

export interface ListedFile {
  id: string;
  size: number;
}

export interface ListedBlob {
  type: BlobType;
  id: string;
  pack: string;
}

export function isListKind(s: string): s is ListKind {
  return (LIST_KINDS as readonly string[]).includes(s);
}

/** The files of one kind, as storage lists them (sorted by id), with their sizes. */
export async function listFiles(repo: Repository, kind: Exclude<ListKind, 'blobs'>): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  for await (const f of repo.backend.list(FILE_TYPE[kind])) out.push({ id: f.name, size: f.size });
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Every blob location of the loaded index, in index order (a blob stored twice is listed twice, as restic does). */
export function* listBlobs(repo: Repository): Generator<ListedBlob> {
  for (const e of repo.index.entries()) yield { type: e.type, id: idToHex(e.id), pack: e.pack };
}

/** The packs that hold the blobs of one snapshot (restic's `list packs SNAPSHOT`), sorted. */
export async function snapshotPacks(repo: Repository, sn: StoredSnapshot): Promise<string[]> {
  const packs = new Set<string>();
  const addBlob = (type: BlobType, hex: string) => {
    for (const loc of repo.index.lookupAll(type, idFromHex(hex))) packs.add(loc.pack);
  };
  addBlob('tree', sn.tree);
  await walkTree(
    (id) => loadTree(repo, id),
    sn.tree,
    {
      node: (n) => {
        if (n.subtree !== undefined) addBlob('tree', n.subtree);
        for (const c of n.content ?? []) addBlob('data', c);
      },
    },
    { uniqueTrees: true },
  );
  return [...packs].sort();
}
