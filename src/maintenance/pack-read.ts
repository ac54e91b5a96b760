// Reads a whole pack of a local repository for `check --read-data` on the thread that verifies it, into a
// buffer kept for the next one. Only packs whose header cannot be read need this (pack-stream.ts reads the
// rest piece by piece). Errors read exactly as LocalBackend.load's, since check reports them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { handleToPath } from '../backend/backend.js';
import { mapFsError } from '../backend/local.js';
import { BackendError } from '../core/errors.js';

// The buffer grows in whole MiB, so packs of slightly different sizes share it.
const GRANULE = 1024 * 1024;

export class PackFiles {
  #buf = Buffer.alloc(0);

  /** `dir`: the repository's directory (LocalBackend.dir). */
  constructor(private readonly dir: string) {}

  /** The pack's bytes, valid until the next read. Throws what LocalBackend.load would throw. */
  read(pack: string): Buffer {
    const rel = handleToPath({ type: 'data', name: pack });
    let fd: number | undefined;
    try {
      fd = fs.openSync(path.join(this.dir, ...rel.split('/')), 'r');
      const size = fs.fstatSync(fd).size;
      if (this.#buf.length < size) {
        this.#buf = Buffer.alloc(0); // let the old one go before taking the new one
        this.#buf = Buffer.allocUnsafeSlow(Math.ceil(size / GRANULE) * GRANULE);
      }
      const bytes = this.#buf.subarray(0, size);
      for (let done = 0; done < size;) {
        const n = fs.readSync(fd, bytes, done, size - done, done);
        if (n === 0)
          throw new BackendError(`short read from ${rel}: got ${done} of ${size} bytes at offset 0`, {
            file: rel,
            offset: 0,
            length: size,
          });
        done += n;
      }
      return bytes;
    } catch (err) {
      throw mapFsError(err, rel, 'load');
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
