// Exclude patterns with the meaning restic's filter package gives them (internal/filter/filter.go):
// a pattern is cleaned like a path and split into components; each component is a Go filepath.Match glob,
// `**` stands for any number of whole components, a leading "/" anchors the pattern at the root, and an
// unanchored pattern matches any run of consecutive components, so "foo" or "a/b" excludes whatever lies
// below too. "!pattern" re-includes what earlier patterns of the same list excluded. Pure, no I/O.

import { RepoError } from '../core/errors.js';
import { goComponentGlob } from '../core/glob.js';

export interface ExcludeRule {
  pattern: string;
  /** --iexclude / --iexclude-file: pattern and path are compared in lower case (a list of its own, as in restic). */
  ignoreCase: boolean;
}

export type PathMatcher = (absPath: string) => boolean;

/** A component that matches any number (zero or more) of whole path components. */
const ANY_COMPONENTS = 0;
type Part = ((component: string) => boolean) | typeof ANY_COMPONENTS;

interface Pattern {
  original: string;
  negated: boolean;
  /** The first component was "/": the pattern matches from the root only. */
  anchored: boolean;
  /** Components after the root marker; undefined when one of them is malformed. */
  parts: Part[] | undefined;
}

/** Go's path.Clean: "" → ".", no "." or empty components, ".." resolved, no trailing "/". */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const s = out.join('/');
  return rooted ? '/' + s : s === '' ? '.' : s;
}

/** restic's splitPath: components of a cleaned path, the first one "/" for an absolute path ("/" itself is ["/", ""]). */
function splitPath(p: string): string[] {
  const parts = p.split('/');
  if (parts[0] === '') parts[0] = '/';
  return parts;
}

function parsePattern(original: string): Pattern {
  const negated = original.startsWith('!');
  const comps = splitPath(goClean(negated ? original.slice(1) : original));
  const anchored = comps[0] === '/';
  const parts: Part[] = [];
  for (const c of anchored ? comps.slice(1) : comps) {
    // restic turns "**" into "" and treats every empty component as "**" (so the pattern "/" is "/**").
    if (c === '**' || c === '') parts.push(ANY_COMPONENTS);
    else {
      const m = goComponentGlob(c);
      if (m === undefined) return { original, negated, anchored, parts: undefined };
      parts.push(m);
    }
  }
  return { original, negated, anchored, parts };
}

/** Whether parts[pi..] match consecutive components starting at strs[si]; what follows the match does not matter. */
function matchFrom(parts: Part[], pi: number, strs: string[], si: number): boolean {
  for (; pi < parts.length; pi++, si++) {
    const part = parts[pi];
    if (part === ANY_COMPONENTS) {
      for (let k = si; k <= strs.length; k++) if (matchFrom(parts, pi + 1, strs, k)) return true;
      return false;
    }
    if (si >= strs.length || !part(strs[si])) return false;
  }
  return true;
}

function matches(p: Pattern, strs: string[]): boolean {
  const parts = p.parts!;
  if (p.anchored) return strs[0] === '/' && matchFrom(parts, 0, strs, 1);
  // An unanchored pattern may start at any component but never at the root marker.
  for (let s = strs[0] === '/' ? 1 : 0; s < strs.length; s++) if (matchFrom(parts, 0, strs, s)) return true;
  return false;
}

/** The patterns restic would refuse ("invalid pattern(s) provided"): a component Go's filepath.Match rejects. */
export function invalidPatterns(patterns: string[]): string[] {
  return patterns.filter((p) => p !== '' && parsePattern(p).parts === undefined);
}

/**
 * One ordered list, as restic's filter.List: a path is excluded when the last pattern that matches it is
 * not negated. Empty patterns are ignored. Throws for a malformed pattern.
 */
export function compilePatternList(patterns: string[]): (components: string[]) => boolean {
  const list = patterns.filter((p) => p !== '').map(parsePattern);
  const bad = list.filter((p) => p.parts === undefined).map((p) => p.original);
  if (bad.length > 0) throw new RepoError('INVALID_ARGUMENT', `invalid exclude pattern(s): ${bad.map((b) => JSON.stringify(b)).join(', ')}`);
  const hasNegation = list.some((p) => p.negated);
  return (strs) => {
    let excluded = false;
    for (const p of list) {
      if (p.negated) {
        if (excluded && matches(p, strs)) excluded = false;
      } else if (!excluded && matches(p, strs)) {
        excluded = true;
        if (!hasNegation) break; // nothing later can change the answer
      }
    }
    return excluded;
  };
}

/**
 * Compiles rules into one matcher over absolute paths. Case-sensitive and case-insensitive rules form two
 * separate lists (a "!" in one does not re-include what the other excluded), as in restic.
 */
export function compileRules(rules: ExcludeRule[]): PathMatcher {
  const plain = rules.filter((r) => !r.ignoreCase).map((r) => r.pattern);
  const folded = rules.filter((r) => r.ignoreCase).map((r) => r.pattern.toLowerCase());
  const a = plain.some((p) => p !== '') ? compilePatternList(plain) : undefined;
  const b = folded.some((p) => p !== '') ? compilePatternList(folded) : undefined;
  if (a === undefined && b === undefined) return () => false;
  return (absPath) => (a !== undefined && a(splitPath(absPath))) || (b !== undefined && b(splitPath(absPath.toLowerCase())));
}

/** The text of a pattern or file list: a UTF-8 byte-order mark is dropped and UTF-16 with a BOM decoded, as restic does. */
export function decodeTextFile(data: Uint8Array): string {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return b.subarray(3).toString('utf8');
  if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le');
  if (b[0] === 0xfe && b[1] === 0xff) {
    const swapped = Buffer.from(b.subarray(2, 2 + ((b.length - 2) & ~1)));
    return swapped.swap16().toString('utf16le');
  }
  return b.toString('utf8');
}

/** Lines as Go's bufio.Scanner splits them: on "\n", with one trailing "\r" dropped, no empty last line. */
export function scanLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

const SPECIAL_VAR = /[*#$@!?\-0-9]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * Go's os.Expand with restic's mapping: $NAME and ${NAME} become the variable's value (empty when unset),
 * "$$" is a literal "$", a "$" before anything else stays, and the malformed "${}" and an unclosed "${" are
 * dropped. "~" is NOT expanded, as restic documents.
 */
export function expandEnv(s: string, env: NodeJS.ProcessEnv = process.env): string {
  const lookup = (name: string) => (name === '$' ? '$' : (env[name] ?? ''));
  let out = '';
  let i = 0;
  let touched = false;
  for (let j = 0; j < s.length; j++) {
    if (s[j] !== '$' || j + 1 >= s.length) continue;
    touched = true;
    out += s.slice(i, j);
    const rest = s.slice(j + 1);
    let name = '';
    let width = 0;
    if (rest[0] === '{') {
      if (rest.length > 2 && SPECIAL_VAR.test(rest[1]) && rest[2] === '}') {
        name = rest[1];
        width = 3;
      } else {
        const close = rest.indexOf('}', 1);
        if (close === 1) width = 2; // "${}": bad syntax, eaten
        else if (close < 0) width = 1; // "${" without "}": bad syntax, "${" eaten
        else {
          name = rest.slice(1, close);
          width = close + 1;
        }
      }
    } else if (SPECIAL_VAR.test(rest[0])) {
      name = rest[0];
      width = 1;
    } else {
      while (width < rest.length && NAME_CHAR.test(rest[width])) width++;
      name = rest.slice(0, width);
    }
    if (name !== '') out += lookup(name);
    else if (width === 0) out += '$'; // valid syntax but no name: the dollar stays
    j += width;
    i = j + 1;
  }
  return touched ? out + s.slice(i) : s;
}

/**
 * Patterns of an --exclude-file as restic reads them: each line trimmed, blank lines and lines starting
 * with "#" skipped, environment variables expanded.
 */
export function parseExcludeFile(data: string | Uint8Array, env: NodeJS.ProcessEnv = process.env): string[] {
  const text = typeof data === 'string' ? data.replace(/^\uFEFF/, '') : decodeTextFile(data);
  const out: string[] = [];
  for (const raw of scanLines(text)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    out.push(expandEnv(line, env));
  }
  return out;
}
