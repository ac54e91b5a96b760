// A streaming POSIX tar (ustar + pax extended headers) encoder for `repo dump` and `repo ui`:
// headers and padding only.
// Pax records carry what ustar cannot: long or non-ASCII names and link targets, large sizes, ids and times.

export const BLOCK = 512;

export type TarType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo';

const TYPEFLAG: Record<TarType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
};

export interface TarEntry {
  /** Path inside the archive, '/'-separated, without a leading '/'; a directory's trailing '/' is added here. */
  name: Buffer;
  type: TarType;
  /** Permission bits including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  /** Modification time in seconds since the epoch (integer part is used in ustar; negative needs pax). */
  mtime: number;
  /** Content bytes that follow the header (files only; 0 for everything else). */
  size: number;
  /** Target of a symlink or hard link. */
  linkname?: Buffer;
  devmajor?: number;
  devminor?: number;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function isPortable(b: Buffer): boolean {
  for (const c of b) if (c < 0x20 || c > 0x7e) return false;
  return true;
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/** Writes `value` as zero-padded octal into a field of `size` bytes followed by a NUL. */
function writeOctal(buf: Buffer, offset: number, size: number, value: number): void {
  const s = Math.max(0, Math.floor(value))
    .toString(8)
    .padStart(size - 1, '0');
  buf.write(s, offset, size - 1, 'ascii');
  buf[offset + size - 1] = 0;
}

/** One pax record "LEN key=value\n", where LEN counts the whole record including its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(` ${key}=`) + value.length + 1;
  let len = rest + 1;
  while (String(len).length + rest !== len) len = String(len).length + rest;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), value, Buffer.from('\n')]);
}

/** Splits an ASCII path into ustar prefix (≤155) and name (≤100), or undefined if it does not fit. */
function splitUstar(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  // The last '/' that leaves at most 100 bytes after it and at most 155 before it.
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    if (name.length - i - 1 > 100) break;
    if (i <= 155 && name.length - i - 1 > 0) return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
  }
  return undefined;
}

function ustarHeader(
  e: TarEntry,
  typeflag: string,
  fields: {
    prefix: Buffer;
    name: Buffer;
    linkname: Buffer;
    size: number;
    mtime: number;
    uid: number;
    gid: number;
    uname: string;
    gname: string;
  },
): Buffer {
  const h = Buffer.alloc(BLOCK);
  fields.name.copy(h, 0, 0, 100);
  writeOctal(h, 100, 8, e.mode & 0o7777);
  writeOctal(h, 108, 8, fields.uid);
  writeOctal(h, 116, 8, fields.gid);
  writeOctal(h, 124, 12, fields.size);
  writeOctal(h, 136, 12, fields.mtime);
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder
  h.write(typeflag, 156, 1, 'ascii');
  fields.linkname.copy(h, 157, 0, 100);
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(fields.uname, 265, 31, 'ascii');
  h.write(fields.gname, 297, 31, 'ascii');
  if (e.type === 'chardev' || e.type === 'blockdev') {
    writeOctal(h, 329, 8, Math.min(e.devmajor ?? 0, MAX_OCTAL_7));
    writeOctal(h, 337, 8, Math.min(e.devminor ?? 0, MAX_OCTAL_7));
  }
  fields.prefix.copy(h, 345, 0, 155);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/**
 * The ustar name a reader that ignores pax sees: printable ASCII, at most 100 bytes, cut only at a '/' so it
 * is always a tail of whole components (a cut inside "a../b" would make "../b"). Components are safe names,
 * so the tail is relative and free of "." and ".." components; one over-long component keeps its last 100 bytes.
 */
function fallbackName(fullName: Buffer): Buffer {
  const dir = fullName[fullName.length - 1] === 0x2f;
  const bare = Buffer.from(
    fullName
      .subarray(0, dir ? -1 : undefined)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '_'),
    'latin1',
  );
  const room = dir ? 99 : 100;
  let tail = bare;
  if (bare.length > room) {
    const cut = bare.indexOf(0x2f, bare.length - room - 1);
    tail = cut >= 0 && cut < bare.length - 1 ? bare.subarray(cut + 1) : bare.subarray(bare.length - room);
  }
  // A tail of one long component could still begin with dots ("..x" is fine, but keep it from looking like "..").
  if (tail.length <= 2 && /^\.{1,2}$/.test(tail.toString('latin1'))) tail = Buffer.from('_');
  return dir ? Buffer.concat([tail, Buffer.from('/')]) : Buffer.from(tail);
}

/**
 * The last line of defence of `repo dump`: a member name must be relative, made of components that are not
 * empty, "." or "..", and must not run through a symlink member written earlier (an extractor would follow
 * it). dump.ts builds names only from validated trees, so this should never refuse; it costs one pass over
 * each name and remembers the names of symlink members.
 */
export class TarNameGuard {
  private readonly symlinks = new Set<string>();

  /** Why `name` must not be written, or undefined. */
  refusal(name: Buffer, type: string): string | undefined {
    if (name.length === 0 || name[0] === 0x2f) return 'empty or absolute member name';
    let start = 0;
    for (let i = 0; i <= name.length; i++) {
      if (i < name.length && name[i] !== 0x2f) {
        if (name[i] === 0) return 'member name containing NUL';
        continue;
      }
      const len = i - start;
      if (
        len === 0 ||
        (len === 1 && name[start] === 0x2e) ||
        (len === 2 && name[start] === 0x2e && name[start + 1] === 0x2e)
      ) {
        return 'member name with an empty, "." or ".." component';
      }
      start = i + 1;
    }
    if (this.symlinks.size === 0) return undefined;
    // Checking the parent is enough: it was a directory member checked the same way, and members are written
    // depth first, so a symlink of the parent's name can only come before it (refused below) or after its subtree.
    const slash = name.lastIndexOf(0x2f);
    if (slash > 0 && this.symlinks.has(name.toString('latin1', 0, slash)))
      return 'member name runs through a symlink member';
    if (type === 'dir' && this.symlinks.has(name.toString('latin1')))
      return 'directory member with the name of a symlink member';
    return undefined;
  }

  /** Records a member that was written. */
  written(name: Buffer, type: string): void {
    if (type === 'symlink') this.symlinks.add(name.toString('latin1'));
  }
}

/** Zero bytes that pad `size` content bytes to a whole block. */
export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/**
 * The header block(s) of one entry: a pax extended header when something does not fit ustar,
 * then the ustar header. The entry's `size` content bytes and padding(size) follow it.
 */
export function encodeHeader(e: TarEntry): Buffer {
  const fullName =
    e.type === 'dir' && e.name[e.name.length - 1] !== 0x2f ? Buffer.concat([e.name, Buffer.from('/')]) : e.name;
  const link = e.linkname ?? Buffer.alloc(0);
  const records: Buffer[] = [];
  let binary = false;
  const text = (key: string, b: Buffer) => {
    if (!isUtf8(b)) binary = true;
    records.push(paxRecord(key, b));
  };

  let split = isPortable(fullName) ? splitUstar(fullName) : undefined;
  if (split === undefined) {
    text('path', fullName);
    split = { prefix: Buffer.alloc(0), name: fallbackName(fullName) };
  }
  let linkname = link;
  if (link.length > 100 || !isPortable(link)) {
    text('linkpath', link);
    linkname = Buffer.alloc(0);
  }
  const size = e.type === 'file' ? e.size : 0;
  if (size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(size))));
  const mtime = Math.floor(e.mtime);
  if (mtime < 0 || mtime > MAX_OCTAL_11) records.push(paxRecord('mtime', Buffer.from(String(mtime))));
  if (e.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (e.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
  const ascii = (s: string | undefined) => s !== undefined && s.length <= 31 && /^[\x20-\x7e]*$/.test(s);
  if (e.uname !== undefined && !ascii(e.uname)) records.push(paxRecord('uname', Buffer.from(e.uname, 'utf8')));
  if (e.gname !== undefined && !ascii(e.gname)) records.push(paxRecord('gname', Buffer.from(e.gname, 'utf8')));
  if (binary) records.unshift(paxRecord('hdrcharset', Buffer.from('BINARY')));

  const main = ustarHeader(e, TYPEFLAG[e.type], {
    ...split,
    linkname,
    size: size > MAX_OCTAL_11 ? 0 : size,
    mtime: mtime < 0 || mtime > MAX_OCTAL_11 ? 0 : mtime,
    uid: e.uid > MAX_OCTAL_7 ? 0 : e.uid,
    gid: e.gid > MAX_OCTAL_7 ? 0 : e.gid,
    uname: ascii(e.uname) ? e.uname! : '',
    gname: ascii(e.gname) ? e.gname! : '',
  });
  if (records.length === 0) return main;

  const data = Buffer.concat(records);
  const base = split.name.toString('latin1').replace(/\/$/, '').split('/').pop() || 'entry';
  const paxName = Buffer.from(`PaxHeaders/${base}`.slice(0, 100), 'latin1');
  const pax = ustarHeader({ ...e, type: 'file', mode: 0o644 }, 'x', {
    prefix: Buffer.alloc(0),
    name: paxName,
    linkname: Buffer.alloc(0),
    size: data.length,
    mtime: Math.max(0, Math.min(mtime, MAX_OCTAL_11)),
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  });
  return Buffer.concat([pax, data, padding(data.length), main]);
}
