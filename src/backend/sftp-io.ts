// Promise wrappers around ssh2's SFTP calls, and pipelined whole-buffer reads and writes: many
// requests of one file in flight at once, so throughput is not bounded by one round trip per request.
// Must never report a short read as success.

import type { FileEntryWithStats, InputAttributes, OpenMode, SFTPWrapper, Stats } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that ssh2 puts in `err.code`. */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/** Requests of one file kept in flight by readFully / writeParts. */
const PIPELINE_DEPTH = 16;

type Cb<T> = (err: Error | null | undefined, value: T) => void;

/** Calls an ssh2 callback-style method; a synchronous throw (e.g. an unsupported extension) rejects too. */
function call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      fn((err, value) => (err !== undefined && err !== null ? reject(err) : resolve(value)));
    } catch (err) {
      reject(err);
    }
  });
}

export function sftpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const sftpOps = {
  open: (s: SFTPWrapper, p: string, flags: OpenMode, attrs?: InputAttributes) =>
    call<Buffer>((cb) => (attrs === undefined ? s.open(p, flags, cb) : s.open(p, flags, attrs, cb))),
  close: (s: SFTPWrapper, h: Buffer) => call<void>((cb) => s.close(h, (err) => cb(err, undefined))),
  fstat: (s: SFTPWrapper, h: Buffer) => call<Stats>((cb) => s.fstat(h, cb)),
  stat: (s: SFTPWrapper, p: string) => call<Stats>((cb) => s.stat(p, cb)),
  lstat: (s: SFTPWrapper, p: string) => call<Stats>((cb) => s.lstat(p, cb)),
  unlink: (s: SFTPWrapper, p: string) => call<void>((cb) => s.unlink(p, (err) => cb(err, undefined))),
  mkdir: (s: SFTPWrapper, p: string, mode: number) =>
    call<void>((cb) => s.mkdir(p, { mode }, (err) => cb(err, undefined))),
  readdir: (s: SFTPWrapper, p: string) => call<FileEntryWithStats[]>((cb) => s.readdir(p, cb as Cb<unknown>)),
  rename: (s: SFTPWrapper, from: string, to: string) =>
    call<void>((cb) => s.rename(from, to, (err) => cb(err, undefined))),
  posixRename: (s: SFTPWrapper, from: string, to: string) =>
    call<void>((cb) => s.ext_openssh_rename(from, to, (err) => cb(err, undefined))),
  fsync: (s: SFTPWrapper, h: Buffer) => call<void>((cb) => s.ext_openssh_fsync(h, (err) => cb(err, undefined))),
  /** Free bytes for unprivileged users on the file system holding p (statvfs@openssh.com). */
  freeBytes: (s: SFTPWrapper, p: string) =>
    call<{ f_bavail: number; f_frsize: number }>((cb) => s.ext_openssh_statvfs(p, cb as Cb<unknown>)).then(
      (v) => v.f_bavail * v.f_frsize,
    ),
};

/** Whether an entry's mode says directory / regular file. */
export const isDirMode = (mode: number): boolean => (mode & 0o170000) === 0o040000;
export const isFileMode = (mode: number): boolean => (mode & 0o170000) === 0o100000;

/** Runs tasks with at most `depth` at once; the first failure is thrown after the running ones settle. */
async function pipelined(tasks: Iterable<() => Promise<void>>, depth: number, beforeEach: () => void): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  for (const task of tasks) {
    if (failure !== undefined) break;
    try {
      beforeEach();
    } catch (err) {
      failure = { err };
      break;
    }
    const p: Promise<void> = task()
      .catch((err: unknown) => {
        failure ??= { err };
      })
      .finally(() => running.delete(p));
    running.add(p);
    if (running.size >= depth) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure.err;
}

/** Cuts the parts into buffers of exactly `size` bytes (the last may be shorter), copying only across part edges. */
function* pieces(parts: readonly Uint8Array[], size: number): Generator<{ buf: Buffer; pos: number }> {
  let pos = 0;
  let staging: Buffer | undefined;
  let fill = 0;
  for (const part of parts) {
    const b = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    let off = 0;
    while (off < b.length) {
      if (staging === undefined && b.length - off >= size) {
        yield { buf: b.subarray(off, off + size), pos };
        pos += size;
        off += size;
        continue;
      }
      staging ??= Buffer.allocUnsafe(size);
      const n = Math.min(size - fill, b.length - off);
      b.copy(staging, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === size) {
        yield { buf: staging, pos };
        pos += size;
        staging = undefined;
        fill = 0;
      }
    }
  }
  if (staging !== undefined && fill > 0) yield { buf: staging.subarray(0, fill), pos };
}

/** Writes the parts back to back from offset 0 with up to PIPELINE_DEPTH write requests in flight. */
export async function writeParts(
  s: SFTPWrapper,
  h: Buffer,
  parts: readonly Uint8Array[],
  chunk: number,
  beforeEach: () => void,
): Promise<void> {
  function* tasks(): Generator<() => Promise<void>> {
    for (const { buf, pos } of pieces(parts, chunk)) {
      yield () => call<void>((cb) => s.write(h, buf, 0, buf.length, pos, (err) => cb(err, undefined)));
    }
  }
  await pipelined(tasks(), PIPELINE_DEPTH, beforeEach);
}

/** Thrown by readFully when the file ends before the requested range does. */
export class ShortReadError extends Error {
  constructor(
    readonly got: number,
    readonly want: number,
  ) {
    super(`short read: the file ended after ${got} of ${want} bytes`);
    this.name = 'ShortReadError';
  }
}

/** Reads [start, start+length) into a new buffer with up to PIPELINE_DEPTH read requests in flight. */
export async function readFully(
  s: SFTPWrapper,
  h: Buffer,
  start: number,
  length: number,
  chunk: number,
  beforeEach: () => void,
): Promise<Buffer> {
  const buf = Buffer.allocUnsafeSlow(length);
  const readAt = async (off: number, len: number): Promise<void> => {
    // A server may answer with fewer bytes than asked: ask again for the rest; 0 bytes means end of file.
    while (len > 0) {
      const n = await call<number>((cb) =>
        s.read(h, buf, off, len, start + off, (err, bytesRead) =>
          cb(
            err !== undefined && err !== null && sftpStatusOf(err) !== SFTP_STATUS.EOF ? err : null,
            err ? 0 : bytesRead,
          ),
        ),
      );
      if (n === 0) throw new ShortReadError(off, length);
      off += n;
      len -= n;
    }
  };
  function* tasks(): Generator<() => Promise<void>> {
    for (let off = 0; off < length; off += chunk) {
      const len = Math.min(chunk, length - off);
      yield () => readAt(off, len);
    }
  }
  await pipelined(tasks(), PIPELINE_DEPTH, beforeEach);
  return buf;
}
