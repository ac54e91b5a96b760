// The per-thread core of `repo analyze`: reads a file once, chunks it with every setting, hashes and sizes new chunks as stored.
// Never writes anything and never opens a file other than the ones it is given; ids are kept per setting in compact tables.

import { errorMessage } from '../core/errors.js';
import fs from 'node:fs';
import { createChunker, type Chunker, type ChunkerParams } from '../chunker/chunker.js';
import { blake3, Blake3Key } from '../crypto/blake3.js';
import { storedForm } from '../repository/blob-padding.js';
import { fanOut } from './fanout.js';
import { SEAL_OVERHEAD } from './settings.js';

export interface AnalyzerConfig {
  settings: ChunkerParams[];
  /** zstd level for the stored-size estimate (0 = no compression). */
  level: number;
  /** Pad each estimated blob as a format-2 writer does (spec/format-2.md §4): the repository's padsBlobs(). */
  pad?: boolean;
  /** The repository's id key: chunk ids are then the repository's keyed blob ids (spec §6). */
  idKey?: Uint8Array;
  /** Bytes per read (default 4 MiB); does not affect boundaries. */
  readSize?: number;
}

export interface FileResult {
  /** Bytes read. */
  bytes: number;
  /** Chunks per setting. */
  chunks: number[];
  error?: string;
}

/** One record per distinct chunk: 32-byte id, then raw length, estimated stored length and first snapshot (uint32 LE each). */
export const RECORD_SIZE = 44;

/** Distinct chunks of one setting: id (as a 32-char latin1 string) → position in parallel arrays. */
export class ChunkTable {
  readonly index = new Map<string, number>();
  readonly keys: string[] = [];
  readonly raw: number[] = [];
  readonly stored: number[] = [];
  readonly snap: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** Adds a chunk or lowers the snapshot that first has it; returns false when it was known. */
  add(key: string, raw: number, stored: number, snap: number): boolean {
    const i = this.index.get(key);
    if (i !== undefined) {
      if (snap < this.snap[i]) this.snap[i] = snap;
      return false;
    }
    this.index.set(key, this.keys.length);
    this.keys.push(key);
    this.raw.push(raw);
    this.stored.push(stored);
    this.snap.push(snap);
    return true;
  }

  storedOf(key: string): number | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.stored[i];
  }

  serialize(): Uint8Array {
    const out = Buffer.allocUnsafeSlow(this.size * RECORD_SIZE);
    for (let i = 0; i < this.size; i++) {
      const at = i * RECORD_SIZE;
      out.write(this.keys[i], at, 32, 'latin1');
      out.writeUInt32LE(this.raw[i], at + 32);
      out.writeUInt32LE(this.stored[i], at + 36);
      out.writeUInt32LE(this.snap[i], at + 40);
    }
    return out;
  }

  /** Merges serialized records from another thread (the earliest snapshot wins). */
  merge(records: Uint8Array): void {
    const b = Buffer.from(records.buffer, records.byteOffset, records.byteLength);
    for (let at = 0; at + RECORD_SIZE <= b.length; at += RECORD_SIZE) {
      this.add(
        b.toString('latin1', at, at + 32),
        b.readUInt32LE(at + 32),
        b.readUInt32LE(at + 36),
        b.readUInt32LE(at + 40),
      );
    }
  }
}

// O_NOATIME, as the backup reads: an analysis must not change the atimes the next backup records (else every tree changes).
async function openForRead(path: Buffer): Promise<fs.promises.FileHandle> {
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW;
  const noatime = fs.constants.O_NOATIME ?? 0;
  if (noatime) {
    try {
      return await fs.promises.open(path, flags | noatime);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    }
  }
  return fs.promises.open(path, flags);
}

export class Analyzer {
  readonly tables: ChunkTable[];
  private readonly chunkers: Chunker[];
  private readonly key?: Blake3Key;
  private readonly readSize: number;

  constructor(private readonly cfg: AnalyzerConfig) {
    this.chunkers = cfg.settings.map((s) => createChunker(s));
    this.tables = cfg.settings.map(() => new ChunkTable());
    this.key = cfg.idKey === undefined ? undefined : new Blake3Key(cfg.idKey);
    this.readSize = cfg.readSize ?? 4 * 1024 * 1024;
  }

  /** Reads `path` once and feeds every piece to one chunker per setting; chunks count for snapshot `snap` (the earliest holding the file). */
  async file(path: Buffer, snap: number): Promise<FileResult> {
    const chunks = this.chunkers.map(() => 0);
    let bytes = 0;
    let fh: fs.promises.FileHandle;
    try {
      fh = await openForRead(path);
    } catch (err) {
      return { bytes, chunks, error: `cannot open: ${errorMessage(err)}` };
    }
    const readSize = this.readSize;
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const buf = Buffer.allocUnsafeSlow(readSize); // fresh: consumers may still hold the previous piece
        const { bytesRead } = await fh.read(buf, 0, readSize, null);
        if (bytesRead === 0) return;
        bytes += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    }
    try {
      const sources = fanOut(pieces(), this.chunkers.length);
      // allSettled: no consumer may still be reading when the file is closed.
      const done = await Promise.allSettled(
        this.chunkers.map(async (ch, s) => {
          for await (const c of ch.chunks(sources[s])) {
            chunks[s]++;
            this.record(s, c, snap);
          }
        }),
      );
      const failed = done.find((d): d is PromiseRejectedResult => d.status === 'rejected');
      if (failed) throw failed.reason;
      return { bytes, chunks };
    } catch (err) {
      return { bytes, chunks, error: `cannot read: ${errorMessage(err)}` };
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  private record(s: number, chunk: Buffer, snap: number): void {
    const key = (this.key ? this.key.hash(chunk) : blake3(chunk)).toString('latin1');
    const t = this.tables[s];
    if (t.index.has(key)) {
      t.add(key, chunk.length, 0, snap);
      return;
    }
    // The same bytes chunked by another setting (a small file is one chunk in all) are compressed only once.
    let stored: number | undefined;
    for (const other of this.tables) if (other !== t && (stored = other.storedOf(key)) !== undefined) break;
    // The writer's own function (file-seal.ts, seal-worker.ts): compressed, and padded in a format-2 repository.
    stored ??= storedForm(chunk, this.cfg.level, this.cfg.pad === true).data.length + SEAL_OVERHEAD;
    t.add(key, chunk.length, stored, snap);
  }
}

/** Messages between the pool and a worker (worker.ts). */
export type ToWorker = { kind: 'file'; job: number; path: Uint8Array; snap: number } | { kind: 'finish' };
export type FromWorker =
  | { kind: 'file'; job: number; result: FileResult }
  | { kind: 'tables'; tables: Uint8Array[] }
  | { kind: 'error'; message: string };
