// The binary layout of the Linux FUSE kernel protocol (include/uapi/linux/fuse.h, 7.x) for a read-only file
// system: request opcodes, the structs this server reads and writes, and errno values. Pure encoding; no I/O.

/** The protocol version answered to FUSE_INIT: 7.31 has every struct used here in its final size. */
export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR = 31;

export const Op = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  READLINK: 5,
  OPEN: 14,
  READ: 15,
  STATFS: 17,
  RELEASE: 18,
  GETXATTR: 22,
  LISTXATTR: 23,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  ACCESS: 34,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
} as const;

/** Positive errno values; a reply carries the negated value. */
export const Errno = {
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EROFS: 30,
  ENOSYS: 38,
  ENODATA: 61,
} as const;

/** FUSE_INIT flags this server asks for (only those the kernel also offers are kept). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
} as const;

/** fuse_open_out.open_flags: snapshot files never change, so the page cache may keep them across opens. */
export const FOPEN_KEEP_CACHE = 1 << 1;

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFSOCK = 0o140000;

export const IN_HEADER_SIZE = 40;
const OUT_HEADER_SIZE = 16;
const ATTR_SIZE = 88;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
}

export function decodeInHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: b.readBigUInt64LE(8),
    nodeid: b.readBigUInt64LE(16),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
  };
}

/** The header of a reply: `error` is 0 or a negated errno; `len` counts the header and `bodyLength`. */
export function encodeOutHeader(unique: bigint, error: number, bodyLength: number): Buffer {
  const b = Buffer.alloc(OUT_HEADER_SIZE);
  b.writeUInt32LE(OUT_HEADER_SIZE + bodyLength, 0);
  b.writeInt32LE(error, 4);
  b.writeBigUInt64LE(unique, 8);
  return b;
}

/** What stat(2) shows for one inode. Times are nanoseconds since the epoch. */
export interface Attr {
  ino: bigint;
  size: number;
  mode: number; // type bits | permission bits
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  mtimeNs: bigint;
  atimeNs: bigint;
  ctimeNs: bigint;
}

function writeTime(b: Buffer, secAt: number, nsecAt: number, ns: bigint): void {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  b.writeBigUInt64LE(BigInt.asUintN(64, sec), secAt);
  b.writeUInt32LE(Number(nsec), nsecAt);
}

function writeAttr(b: Buffer, at: number, a: Attr): void {
  b.writeBigUInt64LE(a.ino, at);
  b.writeBigUInt64LE(BigInt(a.size), at + 8);
  b.writeBigUInt64LE(BigInt(Math.ceil(a.size / 512)), at + 16);
  writeTime(b, at + 24, at + 48, a.atimeNs);
  writeTime(b, at + 32, at + 52, a.mtimeNs);
  writeTime(b, at + 40, at + 56, a.ctimeNs);
  b.writeUInt32LE(a.mode >>> 0, at + 60);
  b.writeUInt32LE(a.nlink, at + 64);
  b.writeUInt32LE(a.uid >>> 0, at + 68);
  b.writeUInt32LE(a.gid >>> 0, at + 72);
  b.writeUInt32LE(a.rdev >>> 0, at + 76);
  b.writeUInt32LE(4096, at + 80); // blksize
}

/** How long the kernel may trust a name or an attribute before asking again, in milliseconds. */
export interface Validity {
  entryMs: number;
  attrMs: number;
}

function writeValid(b: Buffer, secAt: number, nsecAt: number, ms: number): void {
  b.writeBigUInt64LE(BigInt(Math.floor(ms / 1000)), secAt);
  b.writeUInt32LE((ms % 1000) * 1_000_000, nsecAt);
}

/** fuse_entry_out: the reply to LOOKUP. */
export function encodeEntryOut(a: Attr, v: Validity): Buffer {
  const b = Buffer.alloc(40 + ATTR_SIZE);
  b.writeBigUInt64LE(a.ino, 0);
  b.writeBigUInt64LE(1n, 8); // generation: inode numbers are never reused within one mount
  writeValid(b, 16, 32, v.entryMs);
  writeValid(b, 24, 36, v.attrMs);
  writeAttr(b, 40, a);
  return b;
}

/** fuse_attr_out: the reply to GETATTR. */
export function encodeAttrOut(a: Attr, v: Validity): Buffer {
  const b = Buffer.alloc(16 + ATTR_SIZE);
  writeValid(b, 0, 8, v.attrMs);
  writeAttr(b, 16, a);
  return b;
}

/** fuse_open_out: the reply to OPEN and OPENDIR. */
export function encodeOpenOut(fh: bigint, openFlags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(fh, 0);
  b.writeUInt32LE(openFlags, 8);
  return b;
}

/** fuse_read_in (READ and READDIR): file handle, offset, size. */
export function decodeReadIn(body: Buffer): { fh: bigint; offset: bigint; size: number } {
  return { fh: body.readBigUInt64LE(0), offset: body.readBigUInt64LE(8), size: body.readUInt32LE(16) };
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
}

export function decodeInitIn(body: Buffer): InitIn {
  return {
    major: body.readUInt32LE(0),
    minor: body.readUInt32LE(4),
    maxReadahead: body.readUInt32LE(8),
    flags: body.readUInt32LE(12),
  };
}

/** fuse_init_out (64 bytes). `maxPages` bounds one READ to maxPages × 4 KiB. */
export function encodeInitOut(o: { minor: number; maxReadahead: number; flags: number; maxPages: number }): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(FUSE_KERNEL_VERSION, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead, 8);
  b.writeUInt32LE(o.flags >>> 0, 12);
  b.writeUInt16LE(16, 16); // max_background: READs in flight at once
  b.writeUInt16LE(12, 18); // congestion_threshold
  b.writeUInt32LE(4096, 20); // max_write: nothing is ever written
  b.writeUInt32LE(1, 24); // time_gran: nanoseconds
  b.writeUInt16LE(o.maxPages, 28);
  return b;
}

/** fuse_kstatfs inside fuse_statfs_out (80 bytes): a read-only file system with nothing free. */
export function encodeStatfsOut(blocks: number, files: number): Buffer {
  const b = Buffer.alloc(80);
  b.writeBigUInt64LE(BigInt(blocks), 0);
  b.writeBigUInt64LE(BigInt(files), 24);
  b.writeUInt32LE(512, 40); // bsize
  b.writeUInt32LE(255, 44); // namelen
  b.writeUInt32LE(512, 48); // frsize
  return b;
}

/** DT_* of a mode, for directory entries. */
function direntType(mode: number): number {
  return (mode >>> 12) & 0o17;
}

/** Size of one fuse_dirent with `nameLength` bytes of name, padded to 8 bytes. */
export function direntSize(nameLength: number): number {
  return (24 + nameLength + 7) & ~7;
}

/** Writes one fuse_dirent at `at`; `next` is the offset the kernel passes back to continue after it. */
export function writeDirent(b: Buffer, at: number, ino: bigint, next: number, name: Buffer, mode: number): number {
  const size = direntSize(name.length);
  b.fill(0, at, at + size);
  b.writeBigUInt64LE(ino, at);
  b.writeBigUInt64LE(BigInt(next), at + 8);
  b.writeUInt32LE(name.length, at + 16);
  b.writeUInt32LE(direntType(mode), at + 20);
  name.copy(b, at + 24);
  return at + size;
}

/** fuse_batch_forget_in followed by fuse_forget_one entries. */
export function decodeBatchForget(body: Buffer): { nodeid: bigint; nlookup: bigint }[] {
  const count = body.readUInt32LE(0);
  const out: { nodeid: bigint; nlookup: bigint }[] = [];
  for (let i = 0; i < count && 8 + i * 16 + 16 <= body.length; i++)
    out.push({ nodeid: body.readBigUInt64LE(8 + i * 16), nlookup: body.readBigUInt64LE(16 + i * 16) });
  return out;
}
