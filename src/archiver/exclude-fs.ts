// Excludes that look at the file system, as restic's --exclude-if-present, --exclude-caches and
// --exclude-larger-than do (cmd/restic/exclude.go). Path patterns live in exclude.ts.

import fs from 'node:fs';
import path from 'node:path';
import { RepoError, errorMessage } from '../core/errors.js';
import { compileRules, type ExcludeRule, type PathMatcher } from './exclude.js';

/** The Cache Directory Tagging Standard's file and the signature its first bytes must carry (https://bford.info/cachedir/). */
export const CACHEDIR_TAG_SPEC = 'CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55';

export interface TagFileSpec {
  name: string;
  /** Bytes the tag file must start with; empty: its presence is enough. */
  header: string;
}

/** "FILE[:HEADER]" as --exclude-if-present takes it; the first ":" separates name and header. */
export function parseTagFileSpec(spec: string): TagFileSpec {
  if (spec === '')
    throw new RepoError('INVALID_ARGUMENT', '--exclude-if-present: expected FILE[:HEADER], got an empty value');
  const colon = spec.indexOf(':');
  if (colon === 0)
    throw new RepoError(
      'INVALID_ARGUMENT',
      `--exclude-if-present ${JSON.stringify(spec)}: expected FILE[:HEADER], the file name is empty`,
    );
  return colon < 0 ? { name: spec, header: '' } : { name: spec.slice(0, colon), header: spec.slice(colon + 1) };
}

/** Directories remembered per tag file; the walk finishes a directory's entries before moving far away. */
const DIR_MEMORY = 256;

/**
 * A path is excluded when the directory holding it contains the tag file (starting with the header, if
 * one is given); the tag file itself stays, so the directory is kept with only the tag inside. A tag file
 * that cannot be read or carries the wrong header excludes nothing and is reported through `warn`.
 */
function tagFileMatcher(spec: TagFileSpec, warn: (path: string, message: string) => void): PathMatcher {
  const seen = new Map<string, boolean>();
  const header = Buffer.from(spec.header, 'utf8');
  const tagged = (dir: string): boolean => {
    const tf = path.join(dir, spec.name);
    try {
      fs.lstatSync(tf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') {
        warn(tf, `could not access exclusion tagfile: ${errorMessage(err)}`);
      }
      return false;
    }
    if (header.length === 0) return true;
    let fd: number | undefined;
    try {
      fd = fs.openSync(tf, 'r');
      const buf = Buffer.alloc(header.length);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(fd, buf, got, buf.length - got, got);
        if (n === 0) break;
        got += n;
      }
      if (got < buf.length) {
        warn(tf, 'invalid (too short) signature in exclusion tagfile');
        return false;
      }
      if (!buf.equals(header)) {
        warn(tf, 'invalid signature in exclusion tagfile');
        return false;
      }
      return true;
    } catch (err) {
      warn(tf, `could not read signature from exclusion tagfile: ${errorMessage(err)}`);
      return false;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };
  return (absPath) => {
    const slash = absPath.lastIndexOf('/');
    if (absPath.slice(slash + 1) === spec.name) return false; // the tag file itself is kept
    const dir = absPath.slice(0, slash + 1) || '.';
    let r = seen.get(dir);
    if (r === undefined) {
      r = tagged(dir);
      if (seen.size >= DIR_MEMORY) seen.delete(seen.keys().next().value!);
      seen.set(dir, r);
    }
    return r;
  };
}

export interface ExcludeOptions {
  excludes?: ExcludeRule[];
  /** --exclude-if-present specs ("FILE[:HEADER]"); --exclude-caches adds CACHEDIR_TAG_SPEC. */
  excludeIfPresent?: string[];
}

/** Everything decided by a path before it is stat'ed: patterns, then tag files. */
export function compileExcluder(opts: ExcludeOptions, warn: (path: string, message: string) => void): PathMatcher {
  const byPattern = compileRules(opts.excludes ?? []);
  const byTag = (opts.excludeIfPresent ?? []).map((s) => tagFileMatcher(parseTagFileSpec(s), warn));
  if (byTag.length === 0) return byPattern;
  return (absPath) => byPattern(absPath) || byTag.some((m) => m(absPath));
}

/** --exclude-larger-than: any entry but a directory whose size exceeds the limit (restic looks at lstat's size). */
export function tooLarge(st: { size: bigint | number; isDirectory(): boolean }, limit: number | undefined): boolean {
  return limit !== undefined && !st.isDirectory() && BigInt(st.size) > BigInt(limit);
}
