// A file of a local repository written piece by piece (Backend.beginUpload): a pack goes to disk as its blobs
// are sealed instead of being held in memory whole. Same guarantees as LocalBackend.save: the bytes sit under
// a `.tmp-` name in the file type's directory (which cleanupTemporaryFiles() sweeps after a crash) until
// commit() fsyncs them, renames them to the final name and fsyncs that directory.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { RepoError } from '../core/errors.js';
import { type FileType, type Handle, type Upload, handleToPath, throwIfAborted } from './backend.js';
import { ensureDir, errnoCode, FILE_MODE, mapFsError, syncDir, TEMP_PREFIX } from './local-fs.js';

export class LocalUpload implements Upload {
  private position = 0;
  private finished = false;

  private constructor(
    private readonly root: string,
    private readonly type: FileType,
    private readonly tmp: string,
    private fh: FileHandle | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Creates the temporary file in the type's directory of the repository at `root`. */
  static async begin(root: string, type: FileType, signal?: AbortSignal): Promise<LocalUpload> {
    throwIfAborted(signal, type);
    if (type === 'config') throw new RepoError('INVALID_ARGUMENT', 'the config is never uploaded piece by piece');
    const tmp = path.join(root, type, TEMP_PREFIX + randomBytes(16).toString('hex'));
    try {
      const fh = await fs.open(tmp, 'wx', FILE_MODE);
      await fh.chmod(FILE_MODE);
      return new LocalUpload(root, type, tmp, fh, signal);
    } catch (err) {
      throw mapFsError(err, type, 'save');
    }
  }

  async write(part: Uint8Array): Promise<void> {
    const fh = this.openHandle();
    throwIfAborted(this.signal, this.type);
    let done = 0;
    try {
      while (done < part.byteLength) {
        const { bytesWritten } = await fh.write(part, done, part.byteLength - done, this.position);
        done += bytesWritten;
        this.position += bytesWritten;
      }
    } catch (err) {
      throw mapFsError(err, this.type, 'save');
    }
  }

  async commit(h: Handle): Promise<void> {
    const rel = handleToPath(h);
    if (h.type !== this.type)
      throw new RepoError('INVALID_ARGUMENT', `an upload begun for ${this.type} cannot become ${rel}`);
    const fh = this.openHandle();
    const final = path.join(this.root, ...rel.split('/'));
    try {
      await fh.sync();
      this.fh = undefined;
      await fh.close();
      throwIfAborted(this.signal, rel);
      try {
        await fs.rename(this.tmp, final);
      } catch (err) {
        // data/xx is created by init; recreate it once if it went missing, as save() does.
        if (errnoCode(err) !== 'ENOENT') throw err;
        await ensureDir(path.dirname(final));
        await fs.rename(this.tmp, final);
      }
      this.finished = true;
      await syncDir(path.dirname(final));
    } catch (err) {
      await this.abort();
      throw mapFsError(err, rel, 'save');
    }
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
    await fs.rm(this.tmp, { force: true }).catch(() => undefined);
  }

  private openHandle(): FileHandle {
    if (this.fh === undefined || this.finished)
      throw new RepoError('INVALID_ARGUMENT', `the upload of ${this.type}/${path.basename(this.tmp)} is finished`);
    return this.fh;
  }
}
