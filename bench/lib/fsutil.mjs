// Small file-system helpers shared by the datasets.

import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { shOk } from './proc.mjs';

/** Empties a directory (keeping the directory itself) or creates it. */
export function emptyDir(dir) {
  mkdirSync(dir, { recursive: true });
  for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
}

/** Copies the contents of `from` into `to` keeping modes, times and symlinks (`cp -a from/. to/`). */
export function copyContents(from, to) {
  mkdirSync(to, { recursive: true });
  shOk('cp', ['-a', '--no-preserve=ownership', `${from}/.`, `${to}/`]);
}

/**
 * A cached artefact: `dir` is complete when the sibling file `dir.complete` holds the same `key`. `build(tmpDir)`
 * fills a temporary sibling that is renamed into place, so an interrupted build is never reused.
 */
export async function cached(dir, key, build) {
  const marker = `${dir}.complete`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === key) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await build(tmp);
    rmSync(marker, { force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    writeFileSync(marker, key);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

/** Deterministic 32-bit PRNG (mulberry32). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
