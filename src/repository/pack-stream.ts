// A data pack written to storage while its blobs arrive (spec §7), for backends that take a file piece by piece
// (Backend.beginUpload). The in-memory packer holds a whole pack (16 MiB by default, more while the previous
// one is stored); this holds a shuffle window and one write unit, which is what brings backup's peak memory
// down. Blob order within a pack stays unpredictable (a random pick from the window), and every write but the
// last is exactly WRITE_UNIT bytes, so someone watching the temporary file grow learns no blob boundary.

import { randomInt } from 'node:crypto';
import type { Upload } from '../backend/backend.js';
import { createBlake3 } from '../crypto/blake3.js';
import type { XaesKey } from '../crypto/xaes.js';
import type { BlobEntry } from './blob.js';
import { encodePackHeader, MAX_PACK_LENGTH, packTail, type SealedBlob } from './pack.js';

/** Blobs wait here until more than this many bytes are waiting; then a random one of them is written. */
export const SHUFFLE_WINDOW_BYTES = 4 * 1024 * 1024;
/** Bytes per write to storage. */
export const WRITE_UNIT = 1024 * 1024;

/** A finished, stored pack. */
export interface StreamedPack {
  id: string;
  entries: BlobEntry[];
  length: number;
}

export class PackStream {
  private readonly window: SealedBlob[] = [];
  private windowBytes = 0;
  private readonly hash = createBlake3();
  private readonly entries: BlobEntry[] = [];
  /** Bytes of blobs written so far (the next blob's offset). */
  private blobBytes = 0;
  private readonly unit = Buffer.allocUnsafe(WRITE_UNIT);
  private unitFill = 0;

  constructor(
    private readonly upload: Upload,
    private readonly key: XaesKey,
  ) {}

  /** Bytes this pack holds so far (written and waiting). */
  get bytes(): number {
    return this.blobBytes + this.windowBytes;
  }

  get blobCount(): number {
    return this.entries.length + this.window.length;
  }

  /** Takes a blob; writes random picks from the window while it is over its size. */
  async add(blob: SealedBlob): Promise<void> {
    if (this.bytes + blob.sealed.length > MAX_PACK_LENGTH - 1024 * 1024)
      throw new RangeError('pack would exceed 4 GiB');
    this.window.push(blob);
    this.windowBytes += blob.sealed.length;
    while (this.windowBytes > SHUFFLE_WINDOW_BYTES && this.window.length > 1) await this.writeOne();
  }

  /** Writes what waits (in random order), the sealed header and its length; stores the pack under its hash. */
  async finish(): Promise<StreamedPack> {
    if (this.blobCount === 0) throw new RangeError('a pack needs at least one blob');
    while (this.window.length > 0) await this.writeOne();
    const [sealedHeader, trailer] = packTail(encodePackHeader(this.entries), this.key);
    await this.put(sealedHeader);
    await this.put(trailer);
    if (this.unitFill > 0) await this.upload.write(this.unit.subarray(0, this.unitFill));
    this.unitFill = 0;
    const id = this.hash.digest().toString('hex');
    await this.upload.commit({ type: 'data', name: id });
    return { id, entries: this.entries, length: this.blobBytes + sealedHeader.length + trailer.length };
  }

  /** Drops the pack: nothing of it becomes visible. Never throws. */
  abort(): Promise<void> {
    this.window.length = 0;
    this.windowBytes = 0;
    return this.upload.abort();
  }

  private async writeOne(): Promise<void> {
    const i = randomInt(this.window.length);
    const blob = this.window[i];
    this.window[i] = this.window[this.window.length - 1];
    this.window.pop();
    this.windowBytes -= blob.sealed.length;
    this.entries.push({
      type: blob.type,
      id: blob.id,
      compression: blob.compression,
      offset: this.blobBytes,
      storedLength: blob.sealed.length,
      rawLength: blob.rawLength,
    });
    this.blobBytes += blob.sealed.length;
    await this.put(blob.sealed);
  }

  /** Hashes bytes and copies them into the write unit, writing each unit as it fills. */
  private async put(bytes: Uint8Array): Promise<void> {
    this.hash.update(bytes);
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, WRITE_UNIT - this.unitFill);
      this.unit.set(bytes.subarray(at, at + n), this.unitFill);
      this.unitFill += n;
      at += n;
      if (this.unitFill === WRITE_UNIT) {
        await this.upload.write(this.unit);
        this.unitFill = 0;
      }
    }
  }
}
