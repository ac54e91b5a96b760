// The cache's place on disk: its base directory (REPO_CACHE_DIR, XDG, ~/.cache), the modes, temporary prefix
// and CACHEDIR.TAG of what it writes, and the BLAKE3 name a cached file's bytes must match.
// Must never pick a relative or empty base directory (a cache in the working directory would be a surprise).

import os from 'node:os';
import * as path from 'node:path';
import { createBlake3 } from '../crypto/blake3.js';

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;
export const TEMP_PREFIX = '.tmp-';
export const CACHEDIR_TAG =
  'Signature: 8a477f597d28d172789f06886806bc55\n' +
  '# This file is a cache directory tag created by repo.\n' +
  '# For information about cache directory tags, see https://bford.info/cachedir/\n';

/**
 * The cache base directory for an environment: $REPO_CACHE_DIR, else $XDG_CACHE_HOME/repo, else
 * ~/.cache/repo (%LOCALAPPDATA%\repo on Windows). Undefined when none can be determined.
 */
export function defaultCacheDir(env: Record<string, string | undefined> = process.env): string | undefined {
  const set = (v: string | undefined) => (v !== undefined && v.trim() !== '' ? v : undefined);
  const explicit = set(env.REPO_CACHE_DIR);
  if (explicit !== undefined) return path.resolve(explicit);
  const xdg = set(env.XDG_CACHE_HOME);
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'repo');
  if (process.platform === 'win32' && set(env.LOCALAPPDATA) !== undefined) return path.join(env.LOCALAPPDATA!, 'repo');
  let home = set(env.HOME);
  if (home === undefined) {
    try {
      home = os.homedir();
    } catch {
      return undefined;
    }
  }
  return home === '' ? undefined : path.join(home, '.cache', 'repo');
}

export function blake3Hex(parts: readonly Uint8Array[]): string {
  const h = createBlake3();
  for (const p of parts) h.update(p);
  return h.digest().toString('hex');
}
