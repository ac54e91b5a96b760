// Mounting without root: the setuid helper fusermount3 (Debian's fuse3) opens /dev/fuse, mounts, and hands the
// descriptor back over the unix socket named by _FUSE_COMMFD with SCM_RIGHTS. Node's own sockets drop such a
// descriptor (and its IPC channel aborts the process on one), so the socket pair is made and read through libc
// with koffi (FFI with prebuilt binaries). koffi is required here only, when this runs: no other command, and no
// mount as root, pays for loading it.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { errorMessage, RepoError } from '../core/errors.js';

/** The part of koffi this file uses (its own declarations are not imported so that nothing loads it early). */
interface Koffi {
  load(lib: string): { func(signature: string): (...args: unknown[]) => number | bigint };
  alloc(type: string, length: number): unknown;
  free(ptr: unknown): void;
  address(ptr: unknown): bigint;
  view(ptr: unknown, length: number): ArrayBuffer;
  errno(): number;
  sizeof(type: string): number;
}

interface Libc {
  socketpair: (domain: number, type: number, protocol: number, sv: number[]) => number;
  recvmsg: (fd: number, msg: unknown, flags: number) => bigint | number;
  close: (fd: number) => number;
  koffi: Koffi;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

// One block holds the whole message, so every pointer in it is the block's address plus an offset (LP64 Linux):
// struct msghdr (56 bytes), then struct iovec (16), the one data byte (8 with padding), then the control buffer
// of CMSG_SPACE(sizeof(int)) = 24 bytes: struct cmsghdr (len 8, level 4, type 4) and the descriptor.
const MSGHDR = 0;
const IOVEC = 56;
const DATA = 72;
const CONTROL = 80;
const CONTROL_SIZE = 24;
const BLOCK = CONTROL + CONTROL_SIZE;

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc !== undefined) return libc;
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (err) {
    throw new RepoError('INVALID_ARGUMENT', `repo mount without root needs the koffi package: ${errorMessage(err)}`);
  }
  if (koffi.sizeof('void *') !== 8 || koffi.sizeof('long') !== 8)
    throw new RepoError('INVALID_ARGUMENT', 'repo mount without root supports 64-bit Linux only; run it as root');
  const lib = koffi.load('libc.so.6');
  libc = {
    socketpair: lib.func('int socketpair(int, int, int, _Out_ int *sv)') as Libc['socketpair'],
    recvmsg: lib.func('intptr_t recvmsg(int, void *msg, int)') as Libc['recvmsg'],
    close: lib.func('int close(int)') as Libc['close'],
    koffi,
  };
  return libc;
}

/** Whether `cmd` is an executable file in a directory of PATH. */
export function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Takes the descriptor fusermount3 sent (already queued on `sock`: it is read after fusermount3 exited). */
function receiveDescriptor(c: Libc, sock: number): number {
  const block = c.koffi.alloc('uint8_t', BLOCK);
  try {
    const base = c.koffi.address(block);
    const v = new DataView(c.koffi.view(block, BLOCK));
    for (let i = 0; i < BLOCK; i++) v.setUint8(i, 0);
    v.setBigUint64(MSGHDR + 16, base + BigInt(IOVEC), true); // msg_iov
    v.setBigUint64(MSGHDR + 24, 1n, true); // msg_iovlen
    v.setBigUint64(MSGHDR + 32, base + BigInt(CONTROL), true); // msg_control
    v.setBigUint64(MSGHDR + 40, BigInt(CONTROL_SIZE), true); // msg_controllen
    v.setBigUint64(IOVEC, base + BigInt(DATA), true); // iov_base
    v.setBigUint64(IOVEC + 8, 1n, true); // iov_len
    const n = Number(c.recvmsg(sock, block, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
    if (n < 0) throw new Error(`recvmsg failed (errno ${c.koffi.errno()})`);
    const controlLen = Number(v.getBigUint64(MSGHDR + 40, true));
    if (n === 0 || controlLen < 20 || v.getInt32(CONTROL + 8, true) !== SOL_SOCKET)
      throw new Error('fusermount3 sent no descriptor');
    if (v.getInt32(CONTROL + 12, true) !== SCM_RIGHTS) throw new Error('fusermount3 sent no descriptor');
    return v.getInt32(CONTROL + 16, true);
  } finally {
    c.koffi.free(block);
  }
}

/** Why fusermount3 failed, with what to do about the usual causes. */
function fusermountFailure(stderr: string, code: number | null): string {
  const said = stderr.trim() || `exit code ${code}`;
  if (/\/dev\/fuse: Permission denied/.test(stderr))
    return `${said} (fusermount3 opens /dev/fuse as the calling user: it needs mode 0666, as Debian's udev sets it, or run repo mount as root)`;
  return said;
}

/**
 * Mounts a FUSE file system at `mountpoint` through fusermount3 with `options` (fsname, subtype, ro …; it adds
 * fd, rootmode, user_id and group_id itself) and returns the /dev/fuse descriptor that serves it.
 */
export async function mountWithFusermount(mountpoint: string, options: string[]): Promise<number> {
  if (!onPath('fusermount3'))
    throw new RepoError(
      'INVALID_ARGUMENT',
      'repo mount without root needs fusermount3 (Debian package fuse3) on PATH, or run it as root',
    );
  const c = loadLibc();
  const sv = [-1, -1];
  if (c.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) !== 0)
    throw new RepoError('BACKEND', `mount: socketpair failed (errno ${c.koffi.errno()})`);
  const [ours, theirs] = sv;
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      // The child gets our socket's other end as its fd 3 (dup2 clears close-on-exec there only).
      const child = spawn('fusermount3', ['-o', options.join(','), '--', mountpoint], {
        stdio: ['ignore', 'ignore', 'pipe', theirs],
        env: { ...process.env, _FUSE_COMMFD: '3' },
      });
      c.close(theirs);
      sv[1] = -1;
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', (e) =>
        reject(new RepoError('COMMAND_FAILED', `fusermount3: ${errorMessage(e)}`, { command: 'fusermount3' })),
      );
      child.on('close', (status) => resolve({ code: status, stderr: err }));
    });
    if (code !== 0)
      throw new RepoError(
        'COMMAND_FAILED',
        `fusermount3 cannot mount ${mountpoint}: ${fusermountFailure(stderr, code)}`,
        {
          command: 'fusermount3',
          path: mountpoint,
        },
      );
    try {
      return receiveDescriptor(c, ours);
    } catch (err) {
      // Mounted, but nothing can serve it: take it down again rather than leave a dead mount behind.
      spawn('fusermount3', ['-u', '-z', mountpoint], { stdio: 'ignore' }).on('error', () => undefined);
      throw new RepoError('BACKEND', `mount at ${mountpoint}: ${errorMessage(err)}`, { path: mountpoint });
    }
  } finally {
    c.close(ours);
    if (sv[1] >= 0) c.close(sv[1]);
  }
}
