// The backup targets named by --files-from, --files-from-verbatim and --files-from-raw, read as restic reads
// them (cmd/restic/cmd_backup.go): globs expanded like Go's filepath.Glob, "-" for standard input.

import fs from 'node:fs';
import path from 'node:path';
import { RepoError, errorMessage } from '../core/errors.js';
import { goComponentGlob } from '../core/glob.js';
import { decodeTextFile, scanLines } from './exclude.js';

export type FilesFromKind = 'files-from' | 'files-from-verbatim' | 'files-from-raw';

export interface FilesFromResult {
  targets: string[];
  /** Lines that named nothing: a glob without a match or a path that does not exist; restic skips them. */
  missing: { target: string; message: string }[];
}

function readList(kind: FilesFromKind, file: string): Buffer {
  try {
    return file === '-' ? fs.readFileSync(0) : fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new RepoError('INVALID_ARGUMENT', `--${kind}: cannot read ${file}: ${why}`, { path: file });
  }
}

const META = /[*?[\\]/;

/** Go's filepath.Glob on Unix: matches per component, entries sorted, "*" matches names starting with "." too. */
export function goGlob(pattern: string): string[] {
  for (const c of pattern.split('/')) {
    if (goComponentGlob(c) === undefined)
      throw new RepoError('INVALID_ARGUMENT', `syntax error in pattern ${JSON.stringify(pattern)}`);
  }
  if (!META.test(pattern)) {
    try {
      fs.lstatSync(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const slash = pattern.lastIndexOf('/');
  const file = pattern.slice(slash + 1);
  let dir = pattern.slice(0, slash + 1);
  dir = dir === '' ? '.' : dir === '/' ? dir : dir.slice(0, -1);
  const dirs = META.test(dir) ? (dir === pattern ? [] : goGlob(dir)) : [dir];
  const match = goComponentGlob(file)!;
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      if (!fs.statSync(d).isDirectory()) continue;
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const n of names) if (match(n)) out.push(path.join(d, n));
  }
  return out;
}

/** NUL-terminated names; like restic, a missing final NUL or an empty name is an error. */
function rawNames(file: string, data: Buffer): string[] {
  const names: string[] = [];
  let start = 0;
  while (start < data.length) {
    const end = data.indexOf(0, start);
    if (end < 0) throw new RepoError('INVALID_ARGUMENT', `--files-from-raw ${file}: trailing zero byte missing`);
    if (end === start) throw new RepoError('INVALID_ARGUMENT', `--files-from-raw ${file}: empty file name in listing`);
    names.push(data.subarray(start, end).toString('utf8'));
    start = end + 1;
  }
  return names;
}

/** Reads every list; throws for an unreadable list or a malformed glob, before anything is written. */
export function readFilesFrom(lists: { kind: FilesFromKind; file: string }[]): FilesFromResult {
  const targets: string[] = [];
  const missing: FilesFromResult['missing'] = [];
  for (const { kind, file } of lists) {
    const data = readList(kind, file);
    if (kind === 'files-from-raw') {
      targets.push(...rawNames(file, data));
      continue;
    }
    for (const raw of scanLines(decodeTextFile(data))) {
      if (kind === 'files-from-verbatim') {
        if (raw !== '') targets.push(raw);
        continue;
      }
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      let expanded: string[];
      try {
        expanded = goGlob(line);
      } catch (err) {
        throw new RepoError(
          'INVALID_ARGUMENT',
          `--files-from ${file}: ${errorMessage(err)}`,
          { path: file },
          { cause: err },
        );
      }
      if (expanded.length === 0) missing.push({ target: line, message: 'pattern does not match any files, skipping' });
      targets.push(...expanded);
    }
  }
  // Names that do not exist are skipped with a warning (restic's filterExisting); other errors surface later.
  const existing: string[] = [];
  for (const t of targets) {
    try {
      fs.lstatSync(t);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        missing.push({ target: t, message: 'does not exist, skipping' });
        continue;
      }
    }
    existing.push(t);
  }
  return { targets: existing, missing };
}
