// Collects sealed blobs into packs of the target size, stores each pack, then indexes it.
// Order is what keeps a repository consistent: a pack is stored before any index names it.

import type { Backend } from '../backend/backend.js';
import { createBlake3 } from '../crypto/blake3.js';
import type { XaesKey } from '../crypto/xaes.js';
import type { BlobType } from './blob.js';
import type { PackRecord } from './index-file.js';
import { assemblePack, type SealedBlob } from './pack.js';
import { PackStream } from './pack-stream.js';

/** Where a finished pack is reported once it is safely stored. */
export type PackStored = (record: PackRecord, storedBytes: number) => void;

export class Packer {
  private readonly open: Record<BlobType, { blobs: SealedBlob[]; bytes: number }> = {
    data: { blobs: [], bytes: 0 },
    tree: { blobs: [], bytes: 0 },
  };
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  /** The data pack being written to storage, when the backend takes files piece by piece. */
  private stream: PackStream | undefined;
  /** Streamed adds run one after another (each may wait for a write); this is the last one queued. */
  private streaming: Promise<void> = Promise.resolve();

  private readonly maxConcurrentUploads: number;

  constructor(
    private readonly backend: Backend,
    private readonly key: XaesKey,
    private readonly packSize: number,
    private readonly onStored: PackStored,
    opts: { maxConcurrentUploads?: number } = {},
  ) {
    this.maxConcurrentUploads = opts.maxConcurrentUploads ?? 2;
  }

  /** Adds a blob; when its pack is full the pack is stored. Waits when too many uploads are in flight (backpressure). */
  async add(blob: SealedBlob): Promise<void> {
    this.throwIfFailed();
    blob = ownedBytes(blob);
    if (blob.type === 'data' && this.backend.beginUpload !== undefined) {
      const next = this.streaming.then(() => this.addStreamed(blob));
      this.streaming = next.catch(() => undefined);
      return next;
    }
    const p = this.open[blob.type];
    p.blobs.push(blob);
    p.bytes += blob.sealed.length;
    if (p.bytes >= this.packSize) {
      this.startUpload(blob.type);
      while (this.inFlight.size >= this.maxConcurrentUploads) await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
  }

  /** Stores every partly filled pack and waits for all uploads. */
  async flush(): Promise<void> {
    await this.streaming;
    this.throwIfFailed();
    if (this.stream !== undefined) this.finishStream();
    for (const t of ['data', 'tree'] as const) if (this.open[t].blobs.length > 0) this.startUpload(t);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.throwIfFailed();
  }

  /** Waits for the uploads already started, without starting new ones (after an interruption). */
  async drain(): Promise<void> {
    await this.streaming;
    const dropped = this.stream;
    this.stream = undefined;
    await dropped?.abort();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Bytes of sealed blobs not yet stored. */
  get pendingBytes(): number {
    return this.open.data.bytes + this.open.tree.bytes + (this.stream?.bytes ?? 0);
  }

  private async addStreamed(blob: SealedBlob): Promise<void> {
    this.throwIfFailed();
    try {
      this.stream ??= new PackStream(await this.backend.beginUpload!('data'), this.key);
      await this.stream.add(blob);
    } catch (err) {
      this.failure ??= err;
      const broken = this.stream;
      this.stream = undefined;
      await broken?.abort();
      throw err;
    }
    if (this.stream.bytes >= this.packSize) {
      this.finishStream();
      while (this.inFlight.size >= this.maxConcurrentUploads) await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
  }

  /** Writes the rest of the streamed pack and commits it in the background, like an upload. */
  private finishStream(): void {
    const s = this.stream!;
    this.stream = undefined;
    this.track(
      s.finish().then(
        (p) => this.onStored({ pack: p.id, blobs: p.entries }, p.length),
        async (err: unknown) => {
          await s.abort();
          throw err;
        },
      ),
    );
  }

  private startUpload(type: BlobType): void {
    const blobs = this.open[type].blobs;
    this.open[type] = { blobs: [], bytes: 0 };
    this.track(this.upload(blobs));
  }

  private track(work: Promise<void>): void {
    const job = work.catch((err) => {
      this.failure ??= err;
    });
    const tracked = job.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async upload(blobs: SealedBlob[]): Promise<void> {
    const metadata = blobs[0]?.type === 'tree'; // tree packs: a local cache keeps a copy (backend/cache.ts)
    const { parts, length, entries } = assemblePack(blobs, this.key);
    blobs.length = 0; // the parts hold the sealed blobs now; nothing else should keep them alive
    const hash = createBlake3();
    for (const p of parts) hash.update(p);
    const id = hash.digest().toString('hex');
    await this.backend.save({ type: 'data', name: id }, parts, { metadata });
    this.onStored({ pack: id, blobs: entries }, length);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * A blob whose bytes are a view into a larger buffer (a seal worker's reply holds a whole batch of small files
 * back to back) would keep that whole buffer alive for as long as the blob waits in a pack or a shuffle window;
 * a copy of its own bytes lets the rest of the batch go as soon as its other blobs are stored.
 */
function ownedBytes(blob: SealedBlob): SealedBlob {
  const s = blob.sealed;
  if (s.byteOffset === 0 && s.byteLength === s.buffer.byteLength) return blob;
  return { ...blob, sealed: Buffer.from(s) };
}
