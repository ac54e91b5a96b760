// The bytes of S3 requests and replies: reading an SDK response body completely (abortable, never partial)
// and the Content-MD5 a PUT carries so that the server rejects a body damaged on the way.

import { createHash } from 'node:crypto';
import { BackendError } from '../core/errors.js';
import { throwIfAborted } from './backend.js';

/** A response body as the SDK hands it out in Node (an IncomingMessage with helpers mixed in). */
interface SdkBody {
  transformToByteArray?: () => Promise<Uint8Array>;
  destroy?: (err?: Error) => void;
  [Symbol.asyncIterator]?: () => AsyncIterator<Uint8Array>;
}

/** Reads a response body completely, checking the abort signal between chunks. */
export async function readBody(body: unknown, signal: AbortSignal | undefined, file: string): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  const b = body as SdkBody;
  if (typeof b[Symbol.asyncIterator] !== 'function') {
    if (typeof b.transformToByteArray === 'function') return Buffer.from(await b.transformToByteArray());
    throw new BackendError(`cannot load ${file}: unsupported response body`, { file });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of b as AsyncIterable<Uint8Array>) {
      if (signal?.aborted) {
        b.destroy?.();
        throwIfAborted(signal, file);
      }
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      chunks.push(buf);
      total += buf.length;
    }
  } catch (err) {
    b.destroy?.();
    throw err;
  }
  return chunks.length === 1 && chunks[0].byteOffset === 0 && chunks[0].buffer.byteLength === total
    ? chunks[0]
    : Buffer.concat(chunks, total);
}

/** Base64 MD5 of a PUT body, or undefined where MD5 is unavailable. */
export function contentMd5(body: Buffer): string | undefined {
  try {
    return createHash('md5').update(body).digest('base64');
  } catch {
    return undefined; // e.g. MD5 disabled in FIPS mode; the PUT still works without it
  }
}
