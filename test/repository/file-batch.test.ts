// The wire format between the main thread and the seal workers: whatever goes in comes out, per file and
// per chunk, and every buffer of a message is owned by it (so transferring it detaches nothing else).

import { describe, expect, it } from 'vitest';
import {
  decodeFilesJob,
  decodeFilesReply,
  encodeFilesJob,
  encodeFilesReply,
  type FileReply,
} from '../../src/repository/file-batch.js';
import { prng, randomBuffer } from '../helpers/repo.js';

describe('file batches', () => {
  it('round-trip paths (including empty and non-UTF-8 ones) and limits, in owned buffers', () => {
    const files = [
      Buffer.from('/a/b'),
      Buffer.alloc(0),
      Buffer.from([0x2f, 0xff, 0xfe, 0x00]),
      Buffer.from('/x'.repeat(3000)),
    ].map((path, i) => ({ path, limit: 1000 + i }));
    const job = encodeFilesJob(3, files);
    expect(job.paths.byteOffset).toBe(0);
    expect(job.paths.buffer.byteLength).toBe(job.paths.byteLength);
    const back = decodeFilesJob({ ...job, job: 1 });
    expect(back.map((f) => [Buffer.from(f.path).toString('hex'), f.limit])).toEqual(
      files.map((f) => [f.path.toString('hex'), f.limit]),
    );
  });

  it('round-trip replies with errors, empty files and many chunks', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      const files: FileReply[] = Array.from({ length: 1 + Math.floor(rnd() * 40) }, (_, i) => {
        const pick = rnd();
        if (pick < 0.1) return { status: 'error', stage: 'open', message: `gone ${i}`, code: 'ENOENT' };
        if (pick < 0.15) return { status: 'too-large' };
        const chunks = Array.from({ length: Math.floor(rnd() * 4) }, (_, k) => ({
          id: randomBuffer(prng(seed * 1000 + i * 10 + k), 32),
          sealed: randomBuffer(prng(seed * 7 + i + k), Math.floor(rnd() * 5000)),
          rawLength: Math.floor(rnd() * 600_000),
          compression: Math.floor(rnd() * 2),
        }));
        return { status: 'ok', size: Math.floor(rnd() * 1e6), sizeAfter: 5, mtimeNs: `${seed}${i}000000001`, chunks };
      });
      const { reply, transfer } = encodeFilesReply(9, files);
      for (const view of [reply.ids, reply.sealed, reply.chunkInfo]) expect(transfer).toContain(view.buffer);
      const back = decodeFilesReply(reply);
      const plain = (r: FileReply[]) =>
        r.map((f) =>
          f.status === 'ok'
            ? {
                ...f,
                chunks: f.chunks.map((c) => ({
                  ...c,
                  id: Buffer.from(c.id).toString('hex'),
                  sealed: Buffer.from(c.sealed).toString('hex'),
                })),
              }
            : f,
        );
      expect(plain(back)).toEqual(plain(files));
    }
  });
});
