// Writes one planned file's content blob by blob at its offsets (the slow path beside pack-ordered restore: files
// whose blob failed in its pack, hard-link copies), and re-reads files to verify them against the blob ids.
// Must never leave wrong bytes silently: a failed blob removes the partial file and the error names the path.

import { promises as fsp } from 'node:fs';
import { IntegrityError, isRepoError, withContext } from '../core/errors.js';
import { idToHex } from '../core/id.js';
import { packPath } from '../repository/repository.js';
import { displayName } from '../tree/node.js';
import { createFile, openForVerify } from './fsops.js';
import { applyHandleMeta } from './metadata.js';
import { isAllZero } from './pack-writer.js';
import type { Piece, PlannedFile } from './plan.js';
import type { FileMeta, RestoreContext } from './types.js';
import type { NumericMeta } from './file-table.js';

/** The repository's error for a blob, re-raised with the same class and code plus the path being restored. */
export function blobError(ctx: RestoreContext, err: unknown, path: Buffer, blob: Buffer): unknown {
  if (!isRepoError(err)) return err;
  const shown = displayName(path);
  const hex = idToHex(blob);
  const pack = err.context.pack ?? ctx.repo.index.lookup('data', blob)?.pack;
  const context = {
    ...err.context,
    path: shown,
    blob: hex,
    pack,
    file: err.context.file ?? (pack === undefined ? undefined : packPath(pack)),
  };
  return withContext(err, context, { message: (m) => `${m} (restoring ${shown})` });
}

const READ_AHEAD = 3;

async function loadPiece(ctx: RestoreContext, path: Buffer, p: Piece): Promise<Buffer> {
  let buf: Buffer;
  try {
    buf = await ctx.repo.loadBlob('data', p.blob); // every copy of the blob is tried
  } catch (err) {
    throw blobError(ctx, err, path, p.blob);
  }
  if (buf.length !== p.length) {
    // Offsets of later pieces were computed from the index's length; a different length would shift them.
    throw new IntegrityError(
      `blob ${idToHex(p.blob)} is ${buf.length} bytes, the index says ${p.length} (restoring ${displayName(path)})`,
      {
        path: displayName(path),
        blob: idToHex(p.blob),
      },
    );
  }
  return buf;
}

/**
 * Creates `path` and writes the pieces with positional writes, holding one blob at a time, then applies
 * metadata through the same handle. `meta` is the file's (a hard-link copy passes its own node).
 */
export async function writeFileContent(
  ctx: RestoreContext,
  file: PlannedFile,
  path: Buffer,
  meta: FileMeta | NumericMeta,
): Promise<void> {
  const fh = await createFile(path);
  let ok = false;
  // Blobs are fetched a few ahead of the write position, so reading, decrypting and writing overlap.
  const ahead: Promise<Buffer>[] = [];
  const fetch = (i: number) => {
    if (i < file.pieces.length) {
      const p = loadPiece(ctx, path, file.pieces[i]);
      p.catch(() => undefined); // awaited in order below; this only keeps an early failure from counting as unhandled
      ahead.push(p);
    }
  };
  const sparse = ctx.opts.sparse ?? true;
  let hole = false; // whether the last piece was left as a hole (the file is then short of its size)
  let bytes = 0;
  try {
    for (let i = 0; i < READ_AHEAD; i++) fetch(i);
    for (let i = 0; i < file.pieces.length; i++) {
      const p = file.pieces[i];
      ctx.checkAborted();
      const buf = await ahead.shift()!;
      fetch(i + READ_AHEAD);
      hole = sparse && isAllZero(buf);
      let done = hole ? buf.length : 0;
      while (done < buf.length) {
        const { bytesWritten } = await fh.write(buf, done, buf.length - done, p.offset + done);
        done += bytesWritten;
      }
      ctx.progress.bytesDone += buf.length;
      ctx.result.bytes += buf.length;
      bytes += buf.length;
      ctx.reportProgress();
    }
    if (hole) await fh.truncate(file.size);
    await applyHandleMeta(ctx, fh, path, meta);
    ok = true;
  } finally {
    await Promise.allSettled(ahead);
    await fh.close();
    // A partial file would look restored; removing it leaves only a missing entry next to the error.
    if (!ok) {
      await fsp.unlink(path).catch(() => undefined);
      ctx.result.bytes -= bytes; // bytes of files restored only
    }
  }
}

/** Re-reads a restored file and checks its size and every piece's keyed hash. */
export async function verifyFileContent(ctx: RestoreContext, file: PlannedFile, path: Buffer): Promise<void> {
  const shown = displayName(path);
  const fh = await openForVerify(path);
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== file.size) {
      throw new IntegrityError(`restored file ${shown} has ${st.size} bytes, the snapshot has ${file.size}`, {
        path: shown,
      });
    }
    for (const p of file.pieces) {
      ctx.checkAborted();
      const buf = Buffer.allocUnsafe(p.length);
      let got = 0;
      while (got < p.length) {
        const { bytesRead } = await fh.read(buf, got, p.length - got, p.offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== p.length || !ctx.repo.key.blobId(buf).equals(p.blob)) {
        throw new IntegrityError(`restored file ${shown} differs from the snapshot at offset ${p.offset}`, {
          path: shown,
          blob: idToHex(p.blob),
        });
      }
    }
  } finally {
    await fh.close();
  }
}
