// Exclude patterns for backup (restic-style globs): `*`, `?`, `[...]`, `**` across directories.
// A pattern with a leading "/" is anchored at the root; others match at any depth. Pure, no I/O.

import { globToRegexSource } from '../core/glob.js';

export interface ExcludeRule {
  pattern: string;
  ignoreCase: boolean;
}

export type PathMatcher = (absPath: string) => boolean;


/** Compiles one rule; the result tells whether an absolute path is excluded (a match on a directory excludes its contents). */
export function compileRule(rule: ExcludeRule): PathMatcher {
  let p = rule.pattern.trim();
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const anchored = p.startsWith('/');
  const body = globToRegexSource(anchored ? p.slice(1) : p);
  const re = new RegExp(anchored ? `^/${body}(?:/.*)?$` : `(?:^|/)${body}(?:/.*)?$`, rule.ignoreCase ? 'i' : '');
  return (absPath) => re.test(absPath);
}

export function compileRules(rules: ExcludeRule[]): PathMatcher {
  const ms = rules.filter((r) => r.pattern.trim() !== '' && !r.pattern.trim().startsWith('#')).map(compileRule);
  return (p) => ms.some((m) => m(p));
}

/** Lines of an --exclude-file: blank lines and lines starting with # are ignored. */
export function parseExcludeFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
