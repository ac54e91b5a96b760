// Additional authenticated data for every kind of sealed object (spec §3).
// Changing any of these strings breaks every existing repository: never do it within format version 1.

import type { BlobType } from './blob.js';

export const AAD_KEY = Buffer.from('repo:v1:key', 'ascii');
export const AAD_CONFIG = Buffer.from('repo:v1:config', 'ascii');
export const AAD_PACK_HEADER = Buffer.from('repo:v1:pack-header', 'ascii');
export const AAD_INDEX = Buffer.from('repo:v1:index', 'ascii');
export const AAD_SNAPSHOT = Buffer.from('repo:v1:snapshot', 'ascii');
export const AAD_LOCK = Buffer.from('repo:v1:lock', 'ascii');
export const AAD_AUDIT = Buffer.from('repo:v1:audit', 'ascii');

const BLOB_PREFIX: Record<BlobType, Buffer> = {
  data: Buffer.from('repo:v1:blob:data\0', 'ascii'),
  tree: Buffer.from('repo:v1:blob:tree\0', 'ascii'),
};

export function blobAad(type: BlobType, id: Uint8Array): Buffer {
  return Buffer.concat([BLOB_PREFIX[type], id]);
}
