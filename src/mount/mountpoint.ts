// The state of a mount point as the kernel sees it (free, mounted, or left behind by a process that died), and
// unmounting it. Reads /proc/self/mountinfo; never unmounts anything it was not asked to.

import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';
import { run } from './fuse-session.js';

export type MountState = 'free' | 'mounted' | 'stale';

/** The command a person runs to clear a mount at `mountpoint` (quoted for a POSIX shell when needed). */
export function unmountCommand(mountpoint: string): string {
  const quoted = /^[A-Za-z0-9_./+:=@%-]+$/.test(mountpoint) ? mountpoint : `'${mountpoint.replace(/'/g, `'\\''`)}'`;
  return `fusermount3 -u ${quoted}`;
}

/** An absolute path for `p` without touching `p` itself (stat on a dead FUSE mount fails with ENOTCONN). */
export function absoluteMountpoint(p: string): string {
  const abs = path.resolve(p);
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The file-system type mounted at `abs` (the topmost one), or undefined. */
export function mountedType(abs: string): string | undefined {
  let found: string | undefined;
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 0 || fields.length < 5) continue;
    if (unescapeMountinfo(fields[4]) === abs) found = fields[dash + 1];
  }
  return found;
}

/** Whether a FUSE file system is mounted at `abs`, and whether its server is gone (ENOTCONN). */
export function mountState(abs: string): MountState {
  const type = mountedType(abs);
  if (type === undefined || !type.startsWith('fuse')) return 'free';
  try {
    fs.statSync(abs);
    return 'mounted';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOTCONN' ? 'stale' : 'mounted';
  }
}

/**
 * Unmounts `abs`: plainly first; when it is busy (a shell inside it), lazily, so the kernel detaches it now and
 * lets go once the last user leaves. Returns how, or throws with both failures.
 */
export async function unmount(abs: string): Promise<'unmounted' | 'lazily'> {
  const attempts: [string, string[], 'unmounted' | 'lazily'][] = [
    ['fusermount3', ['-u', abs], 'unmounted'],
    ['umount', [abs], 'unmounted'],
    ['fusermount3', ['-u', '-z', abs], 'lazily'],
    ['umount', ['-l', abs], 'lazily'],
  ];
  const errors: string[] = [];
  for (const [cmd, args, how] of attempts) {
    try {
      await run(cmd, args);
      return how;
    } catch (err) {
      errors.push(errorMessage(err));
      if (mountedType(abs) === undefined) return how; // another process unmounted it meanwhile
    }
  }
  throw new Error(errors.join('; '));
}
