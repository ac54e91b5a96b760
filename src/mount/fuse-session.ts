// One FUSE connection spoken directly over /dev/fuse (no libfuse, no native addon): mounts, reads requests on a
// worker thread (a blocking read there holds no thread of libuv's pool), answers them through a FileSystem,
// and unmounts. Read-only: anything that would write gets EROFS from the kernel (the mount is "ro").

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { errorMessage, RepoError } from '../core/errors.js';
import {
  type Attr,
  decodeBatchForget,
  decodeInHeader,
  decodeInitIn,
  decodeReadIn,
  encodeAttrOut,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeOutHeader,
  encodeStatfsOut,
  Errno,
  FOPEN_KEEP_CACHE,
  FUSE_KERNEL_MINOR,
  IN_HEADER_SIZE,
  InitFlag,
  Op,
  type Validity,
} from './fuse-abi.js';
import { mountWithFusermount } from './fusermount.js';

/** An error a FileSystem method throws to answer with that errno (anything else answers EIO and is reported). */
export class FsError extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

export interface Entry {
  attr: Attr;
  valid: Validity;
}

/** What the session needs from the file system behind it. Inode 1 is the root. */
export interface FileSystem {
  lookup(parent: bigint, name: Buffer): Promise<Entry>;
  forget(ino: bigint, count: number): void;
  getattr(ino: bigint): Promise<Entry>;
  readlink(ino: bigint): Promise<Buffer>;
  open(ino: bigint): Promise<bigint>;
  read(fh: bigint, offset: number, size: number): Promise<Buffer>;
  release(fh: bigint): void;
  opendir(ino: bigint): Promise<bigint>;
  /** Writes entries from position `offset` into `buf`, returning the bytes used. */
  readdir(fh: bigint, offset: number, buf: Buffer): number;
  releasedir(fh: bigint): void;
}

export interface MountOptions {
  allowOther: boolean;
  defaultPermissions: boolean;
  /** Said once per failure that is not an FsError (the request then gets EIO). */
  warn: (line: string) => void;
}

/** Large enough for any request the kernel sends a read-only file system (libfuse uses the same bound). */
const REQUEST_BUFFER = 1024 * 1024 + 4096;
/** Pages per READ: 32 × 4 KiB = 128 KiB, the read-ahead window the kernel offers (max_readahead); 256 measured no faster. */
const MAX_PAGES = 32;

// The reader thread: a loop of blocking read(2) calls, each request copied out and handed to the main thread.
// It ends when the connection goes (ENODEV after unmount).
const READER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const buf = Buffer.allocUnsafe(workerData.size);
for (;;) {
  let n;
  try { n = fs.readSync(workerData.fd, buf, 0, buf.length, null); }
  catch (e) {
    if (e.code === 'EINTR' || e.code === 'EAGAIN' || e.code === 'ENOENT') continue;
    parentPort.postMessage({ end: e.code === 'ENODEV' ? '' : String(e.message) });
    break;
  }
  const req = new Uint8Array(n);
  req.set(buf.subarray(0, n));
  parentPort.postMessage({ req }, [req.buffer]);
}`;

export class FuseSession {
  private readonly worker: Worker;
  private readonly done: Promise<string>;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly fsys: FileSystem,
    private readonly warn: (line: string) => void,
  ) {
    this.worker = new Worker(READER_SOURCE, { eval: true, workerData: { fd, size: REQUEST_BUFFER } });
    this.done = new Promise((resolve) => {
      this.worker.on('message', (m: { req?: Uint8Array; end?: string }) => {
        if (m.req !== undefined) this.dispatch(Buffer.from(m.req.buffer, m.req.byteOffset, m.req.byteLength));
        else resolve(m.end ?? '');
      });
      this.worker.on('error', (err) => resolve(errorMessage(err)));
    });
  }

  /**
   * Mounts `fsys` at `mountpoint`: as root with mount(2) and a /dev/fuse descriptor it opens itself (no helper,
   * no FFI); otherwise through the setuid fusermount3, which opens /dev/fuse and hands the descriptor back.
   */
  static async mount(mountpoint: string, fsys: FileSystem, opts: MountOptions): Promise<FuseSession> {
    const options = ['ro', 'nosuid', 'nodev'];
    if (opts.allowOther) options.push('allow_other');
    if (opts.defaultPermissions) options.push('default_permissions');
    if (process.getuid?.() !== 0) {
      const fd = await mountWithFusermount(mountpoint, ['fsname=repo', 'subtype=repo', ...options]);
      return new FuseSession(fd, fsys, opts.warn);
    }
    const fd = fs.openSync('/dev/fuse', 'r+');
    const gid = process.getgid?.() ?? 0;
    options.unshift('fd=3', 'rootmode=40000', 'user_id=0', `group_id=${gid}`);
    const session = new FuseSession(fd, fsys, opts.warn);
    try {
      // -i: no /sbin/mount.fuse helper; -n: no /etc/mtab. The child gets the descriptor as its fd 3.
      await run('mount', ['-i', '-n', '-t', 'fuse.repo', '-o', options.join(','), 'repo', mountpoint], [fd]);
    } catch (err) {
      await session.worker.terminate();
      fs.closeSync(fd);
      throw err;
    }
    return session;
  }

  /** Resolves when the kernel ends the connection (unmounted); a non-empty string says what went wrong. */
  get finished(): Promise<string> {
    return this.done.finally(() => {
      if (!this.closed) {
        this.closed = true;
        fs.closeSync(this.fd);
      }
    });
  }

  private reply(unique: bigint, error: number, body?: Buffer): void {
    if (this.closed) return;
    const head = encodeOutHeader(unique, error === 0 ? 0 : -error, body?.length ?? 0);
    try {
      if (body === undefined || body.length === 0) fs.writeSync(this.fd, head);
      else fs.writevSync(this.fd, [head, body]);
    } catch (err) {
      // ENOENT: the request was interrupted and the kernel no longer waits for it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENODEV')
        this.warn(`mount: cannot answer the kernel: ${errorMessage(err)}`);
    }
  }

  private dispatch(req: Buffer): void {
    if (req.length < IN_HEADER_SIZE) return;
    const h = decodeInHeader(req);
    const body = req.subarray(IN_HEADER_SIZE, h.len);
    const answer = (p: Promise<Buffer | undefined>) =>
      p.then(
        (b) => this.reply(h.unique, 0, b),
        (err: unknown) => {
          if (err instanceof FsError) this.reply(h.unique, err.errno);
          else {
            this.warn(`mount: ${errorMessage(err)}`);
            this.reply(h.unique, Errno.EIO);
          }
        },
      );
    const fsys = this.fsys;
    switch (h.opcode) {
      case Op.INIT: {
        const init = decodeInitIn(body);
        const wanted = InitFlag.ASYNC_READ | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES;
        this.reply(
          h.unique,
          0,
          encodeInitOut({
            minor: Math.min(init.minor, FUSE_KERNEL_MINOR),
            maxReadahead: init.maxReadahead,
            flags: init.flags & wanted,
            maxPages: MAX_PAGES,
          }),
        );
        return;
      }
      case Op.LOOKUP: {
        const end = body.indexOf(0);
        const name = body.subarray(0, end < 0 ? body.length : end);
        void answer(fsys.lookup(h.nodeid, name).then((e) => encodeEntryOut(e.attr, e.valid)));
        return;
      }
      case Op.FORGET:
        fsys.forget(h.nodeid, Number(body.readBigUInt64LE(0)));
        return; // FORGET has no reply
      case Op.BATCH_FORGET:
        for (const f of decodeBatchForget(body)) fsys.forget(f.nodeid, Number(f.nlookup));
        return;
      case Op.GETATTR:
        void answer(fsys.getattr(h.nodeid).then((e) => encodeAttrOut(e.attr, e.valid)));
        return;
      case Op.READLINK:
        void answer(fsys.readlink(h.nodeid));
        return;
      case Op.OPEN:
        void answer(fsys.open(h.nodeid).then((fh) => encodeOpenOut(fh, FOPEN_KEEP_CACHE)));
        return;
      case Op.READ: {
        const r = decodeReadIn(body);
        void answer(fsys.read(r.fh, Number(r.offset), r.size));
        return;
      }
      case Op.RELEASE:
        fsys.release(body.readBigUInt64LE(0));
        this.reply(h.unique, 0);
        return;
      case Op.OPENDIR:
        void answer(fsys.opendir(h.nodeid).then((fh) => encodeOpenOut(fh, 0)));
        return;
      case Op.READDIR: {
        const r = decodeReadIn(body);
        void answer(
          Promise.resolve().then(() => {
            const buf = Buffer.alloc(r.size);
            return buf.subarray(0, fsys.readdir(r.fh, Number(r.offset), buf));
          }),
        );
        return;
      }
      case Op.RELEASEDIR:
        fsys.releasedir(body.readBigUInt64LE(0));
        this.reply(h.unique, 0);
        return;
      case Op.STATFS:
        this.reply(h.unique, 0, encodeStatfsOut(0, 0));
        return;
      case Op.INTERRUPT:
        return; // requests here finish quickly; the kernel copes with a late answer
      case Op.DESTROY:
        this.reply(h.unique, 0);
        return;
      default:
        // ENOSYS for GETXATTR, LISTXATTR, FLUSH, ACCESS …: the kernel stops asking for each of them.
        this.reply(h.unique, Errno.ENOSYS);
    }
  }
}

/** Runs a command to completion; its stderr becomes the error message on failure. */
export function run(cmd: string, args: string[], fds: number[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', ...fds] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) =>
      reject(new RepoError('COMMAND_FAILED', `${cmd}: ${errorMessage(err)}`, { command: cmd }, { cause: err })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new RepoError('COMMAND_FAILED', `${cmd} ${args.join(' ')}: ${stderr.trim() || `exit code ${code}`}`, {
            command: cmd,
          }),
        );
    });
  });
}
