// Verifies a pack of a local repository while reading it front to back through a small window, instead of
// holding all of it: the header first (two small reads at the end, as loadPackHeader does), then the blobs
// in file order, each checked as soon as it is wholly in the window, with the storage hash computed over
// the same bytes while they are still in cache. A thread then needs about one blob of memory, not one pack.
// The findings must be verifyPack's on the whole pack; a pack whose header cannot be read goes through
// verifyPack itself (the index's entries may then lie anywhere).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { handleToPath } from '../backend/backend.js';
import { mapFsError } from '../backend/local.js';
import { BackendError } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { createBlake3 } from '../crypto/blake3.js';
import type { BlobEntry } from '../repository/blob.js';
import { headerLengthFromTrailer, parsePackHeader } from '../repository/pack.js';
import { PackFiles } from './pack-read.js';
import { scratch, type PackVerifier } from './pack-verifier.js';
import { decodeEntries, indexMismatches, unreadable, verifyPack, type VerifyPackResult } from './verify-pack.js';

// Reads of 1 MiB: few enough calls, and the window stays in cache while its blobs are checked. It grows
// to hold the largest blob (kept up to SCRATCH_KEEP).
const WINDOW = 1024 * 1024;

/** An error from reading the file, as opposed to a pack that reads fine but is not valid. */
class ReadFailure {
  constructor(readonly cause: unknown) {}
}

export class PackStreamer {
  #window: Buffer = Buffer.allocUnsafeSlow(WINDOW);
  readonly #whole: PackFiles;

  /** `dir`: the repository's directory (LocalBackend.dir). */
  constructor(
    private readonly dir: string,
    private readonly verifier: PackVerifier,
  ) {
    this.#whole = new PackFiles(dir);
  }

  /** verifyPack's result for the pack, or unreadable() with LocalBackend.load's error if it cannot be read. */
  verify(job: number, pack: string, records: Buffer): VerifyPackResult {
    const rel = handleToPath({ type: 'data', name: pack });
    let fd: number | undefined;
    try {
      let size: number;
      try {
        fd = fs.openSync(path.join(this.dir, ...rel.split('/')), 'r');
        size = fs.fstatSync(fd).size;
      } catch (err) {
        throw new ReadFailure(err);
      }
      const read = (buf: Buffer, at: number, length: number, position: number): void => {
        for (let done = 0; done < length;) {
          let n: number;
          try {
            n = fs.readSync(fd!, buf, at + done, length - done, position + done);
          } catch (err) {
            throw new ReadFailure(err);
          }
          if (n === 0)
            throw new ReadFailure(
              new BackendError(`short read from ${rel}: got ${position + done} of ${size} bytes at offset 0`, {
                file: rel,
              }),
            );
          done += n;
        }
      };
      let header: BlobEntry[];
      try {
        header = this.#header(read, size, pack);
      } catch (err) {
        if (err instanceof ReadFailure) throw err;
        // An unreadable header: the whole pack, the index's entries and all, as verifyPack takes it.
        let bytes: Buffer;
        try {
          bytes = this.#whole.read(pack);
        } catch (e) {
          return unreadable(job, e);
        }
        return verifyPack(this.verifier, job, pack, bytes, records);
      }
      return this.#stream(read, size, job, pack, header, records);
    } catch (err) {
      // Only failures to read are findings; anything else is a fault of this program and ends the check.
      if (err instanceof ReadFailure) return unreadable(job, mapFsError(err.cause, rel, 'load'));
      throw err;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** packHeaderFromBytes, from the two pieces of the file it looks at. */
  #header(
    read: (buf: Buffer, at: number, length: number, position: number) => void,
    size: number,
    pack: string,
  ): BlobEntry[] {
    const trailer = Buffer.alloc(Math.min(4, size));
    read(trailer, 0, trailer.length, size - trailer.length);
    const hlen = headerLengthFromTrailer(trailer, size, pack);
    const sealed = Buffer.allocUnsafe(hlen);
    read(sealed, 0, hlen, size - 4 - hlen);
    return parsePackHeader(sealed, size, this.verifier.key.encryption, pack);
  }

  #stream(
    read: (buf: Buffer, at: number, length: number, position: number) => void,
    size: number,
    job: number,
    pack: string,
    header: BlobEntry[],
    records: Buffer,
  ): VerifyPackResult {
    const r: VerifyPackResult = {
      job,
      size,
      hashOk: false,
      mismatched: indexMismatches(decodeEntries(records, pack), header),
      blobsChecked: header.length,
      damaged: [],
    };
    // The header guarantees its blobs lie inside the blob area without overlapping.
    const order = header.map((_, i) => i).sort((a, b) => header[a].offset - header[b].offset);
    const sorted = order.map((i) => header[i]);
    const found: { at: number; message: string }[] = [];
    const hash = createBlake3();
    let win = this.#window;
    let pos = 0; // file offset of win[0]
    let fill = 0; // bytes of the file in win
    let next = 0; // first blob not checked yet
    while (pos + fill < size) {
      // Let go of everything before the next blob, then make room for all of it.
      const keep = next < sorted.length ? Math.min(sorted[next].offset, pos + fill) : pos + fill;
      if (keep > pos) {
        win.copyWithin(0, keep - pos, fill);
        fill -= keep - pos;
        pos = keep;
      }
      if (next < sorted.length && sorted[next].storedLength > win.length) {
        const bigger = scratch(win, Math.ceil(sorted[next].storedLength / WINDOW) * WINDOW, (b) => (this.#window = b));
        win.copy(bigger, 0, 0, fill);
        win = bigger;
      }
      const n = Math.min(win.length - fill, size - pos - fill);
      read(win, fill, n, pos + fill);
      hash.update(win.subarray(fill, fill + n)); // every byte of the file once, in order
      fill += n;
      let to = next;
      while (to < sorted.length && sorted[to].offset + sorted[to].storedLength <= pos + fill) to++;
      if (to > next) {
        for (const d of this.verifier.verifyBlobs(pack, win.subarray(0, fill), sorted, pos, next, to))
          found.push({ at: order[d.at], message: d.message });
        next = to;
      }
    }
    r.hashOk = hash.digest().toString('hex') === pack;
    // In header order, as verifyPack lists them.
    for (const d of found.sort((a, b) => a.at - b.at))
      r.damaged.push({ type: header[d.at].type, id: idToHex(header[d.at].id), message: d.message });
    return r;
  }
}
