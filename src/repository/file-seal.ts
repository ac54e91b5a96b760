// Turns small files into sealed chunks: read each once, cut exactly as the streaming chunker would, hash,
// compress and seal. The seal workers run it (seal-worker.ts); the main thread does not (sealing batches there
// as well was measured slower on the kernel tree, and cost 30-40 MiB). It never touches the repository's storage.

import { fastcdcBoundaries } from '../chunker/fastcdc.js';
import type { ChunkerParams } from '../chunker/params.js';
import { blobAad } from './aad.js';
import { storedForm } from './blob-padding.js';
import type { FileReply, SealedChunk } from './file-batch.js';
import { WholeFileReader } from './file-read.js';
import type { MasterKey } from './master-key.js';

export class FileSealer {
  private readonly reader = new WholeFileReader();

  constructor(
    private readonly key: MasterKey,
    private readonly chunker: ChunkerParams,
    private readonly pad = false,
  ) {}

  /** Every file's chunks (or why it could not be read), in the order given. */
  async sealAll(files: { path: Buffer; limit: number }[], level: number): Promise<FileReply[]> {
    const out = new Array<FileReply>(files.length);
    await this.reader.readAll(files, (i, r) => {
      out[i] = r.status === 'read' ? this.sealBytes(r.buf.subarray(0, r.filled), r.sizeAfter, r.mtimeNs, level) : r;
    });
    return out;
  }

  private sealBytes(data: Buffer, sizeAfter: number, mtimeNs: string, level: number): FileReply {
    const cuts = fastcdcBoundaries(data, this.chunker);
    const chunks: SealedChunk[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      // seal() writes a fresh buffer, so nothing sealed points into the read buffer reused for the next file.
      const chunk = data.subarray(cuts[i], cuts[i + 1]);
      const id = this.key.blobId(chunk);
      const { data: packed, compression } = storedForm(chunk, level, this.pad);
      const sealed = this.key.encryption.seal(packed, blobAad('data', id));
      chunks.push({ id, rawLength: chunk.length, sealed, compression });
    }
    return { status: 'ok', size: data.length, sizeAfter, mtimeNs, chunks };
  }
}
