// Ranged reads over HTTP (S3 and restic's REST protocol): the Range header for a load, and turning a
// response (206 with Content-Range, or a 200 from a server that ignored the range) into exactly the bytes
// asked for. Must never return partial data: a short body is a transient error, a range past the end a permanent one.

import { BackendError } from '../core/errors.js';
import { TransientBackendError, resolveRange } from './backend.js';

const CONTENT_RANGE_RE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

/** What a GET with a Range header answered. */
export interface RangeResponse {
  data: Buffer;
  /** HTTP status; undefined when the client library does not say. */
  status: number | undefined;
  contentRange: string | undefined;
  contentLength: number | undefined;
}

/** The Range header value for [start, start+length), or from start to the end. */
export function rangeHeader(start: number, length: number | undefined): string {
  return length === undefined ? `bytes=${start}-` : `bytes=${start}-${start + length - 1}`;
}

/** A body that ended before the announced length: the connection was cut, worth another attempt. */
export function truncated(rel: string, got: number, want: number, offset: number): TransientBackendError {
  return new TransientBackendError(`cannot load ${rel}: response body has ${got} of ${want} bytes`, {
    file: rel,
    offset,
    length: want,
  });
}

/** The bytes [start, start+length) (or to the end) from a ranged GET's response, or an error — never partial data. */
export function bytesOfRangeResponse(rel: string, r: RangeResponse, start: number, length: number | undefined): Buffer {
  const m = r.contentRange === undefined ? null : CONTENT_RANGE_RE.exec(r.contentRange);
  if (r.status === 206 && m !== null) {
    const first = Number(m[1]);
    const last = Number(m[2]);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (first !== start) {
      throw new BackendError(`cannot load ${rel}: the server returned bytes from ${first} instead of ${start}`, {
        file: rel,
        offset: start,
      });
    }
    if (total !== undefined) resolveRange(total, start, length, rel); // permanent error past the end
    const announced = last - first + 1;
    if (r.data.length !== announced) throw truncated(rel, r.data.length, announced, start);
    const want = length ?? (total === undefined ? announced : total - start);
    if (r.data.length < want) {
      // With a known size the range was checked above, so the body was cut short on the way.
      if (total !== undefined) throw truncated(rel, r.data.length, want, start);
      // Servers cut a range at the end of the object: the range reached beyond it.
      throw new BackendError(`range [${start}, ${start + want}) is beyond the end of ${rel}`, {
        file: rel,
        offset: start,
        length: want,
        reason: 'short', // as resolveRange: the stored object is shorter than expected
        ...(total === undefined ? {} : { size: total }),
      });
    }
    // Some servers (s3rver for "bytes=0-0") send more than asked; the start is verified above.
    return r.data.length === want ? r.data : Buffer.from(r.data.subarray(0, want));
  }
  if (r.status === 200 || r.status === undefined) {
    // The server ignored the Range header and sent the whole object.
    if (r.contentLength !== undefined && r.data.length !== r.contentLength) {
      throw truncated(rel, r.data.length, r.contentLength, 0);
    }
    const [s, e] = resolveRange(r.data.length, start, length, rel);
    return Buffer.from(r.data.subarray(s, e));
  }
  throw new BackendError(`cannot load ${rel}: unexpected response to a range request (HTTP ${r.status})`, {
    file: rel,
    status: r.status,
  });
}
