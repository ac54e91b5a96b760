// Exclude patterns with the meaning restic's filter package gives them (internal/filter/filter.go):
// a pattern is cleaned like a path and split into components; each component is a Go filepath.Match glob,
// `**` stands for any number of whole components, a leading "/" anchors the pattern at the root, and an
// unanchored pattern matches any run of consecutive components, so "foo" or "a/b" excludes whatever lies
// below too. "!pattern" re-includes what earlier patterns of the same list excluded. Pure, no I/O.

import { RepoError } from '../core/errors.js';
import { goComponentRegexSource } from '../core/glob.js';

export interface ExcludeRule {
  pattern: string;
  /** --iexclude / --iexclude-file: pattern and path are compared in lower case (a list of its own, as in restic). */
  ignoreCase: boolean;
}

export type PathMatcher = (absPath: string) => boolean;

interface Pattern {
  original: string;
  negated: boolean;
  /** The first component was "/": the pattern matches from the root only. */
  anchored: boolean;
  /** Regular-expression source over a whole path; undefined when a component is malformed. */
  source: string | undefined;
  /**
   * With two or more "**", restic's expansion limits how many components each may take (see
   * countedExpansion); such a pattern's regular-expression match is confirmed with restic's algorithm.
   */
  exact?: (strs: string[]) => boolean;
}

type Component = (c: string) => boolean;
const STAR: Component = (c) => c !== '/';

/**
 * restic's filter.match for a pattern with "**" (null): the first "**" becomes i = 0, 1, … "*" components,
 * i at most len(path) - len(pattern) + 1 with every remaining "**" counted as one component, then the next
 * "**" likewise. So with "**" both before and after "x", "/a/" + that matches "/a/b/x/y" but not "/a/b/x"
 * itself, where plain globbing would match both.
 */
function countedExpansion(parts: (Component | null)[], strs: string[], anchored: boolean): boolean {
  const pos = parts.indexOf(null);
  if (pos >= 0) {
    for (let i = 0; i <= strs.length - parts.length + 1; i++) {
      const expanded = [...parts.slice(0, pos), ...Array<Component>(i).fill(STAR), ...parts.slice(pos + 1)];
      if (countedExpansion(expanded, strs, anchored)) return true;
    }
    return false;
  }
  if (parts.length === 0 || parts.length > strs.length) return false;
  const max = anchored ? 0 : strs.length - parts.length;
  const min = !anchored && strs[0] === '/' ? 1 : 0;
  outer: for (let off = max; off >= min; off--) {
    for (let i = 0; i < parts.length; i++) if (!(parts[i] as Component)(strs[off + i])) continue outer;
    return true;
  }
  return false;
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

/** restic's splitPath: components, the first one "/" for an absolute path ("/" itself is ["/", ""]). */
function splitPath(p: string): string[] {
  const parts = p.split('/');
  if (parts[0] === '') parts[0] = '/';
  return parts;
}

/** Any number (zero or more) of whole components, each written with its leading "/". */
const ANY_COMPONENTS = '(?:/[^/]*)*';

/**
 * restic matches a pattern component by component (filter.go): components are split at "/" after Go's
 * Clean, the first one is "/" for an absolute pattern (then the pattern must match from the root, otherwise
 * it may start at any component), "**" and empty components stand for any number of components, and what
 * follows the matched components does not matter. Written over the path string, each component becomes
 * "/" plus its glob (which cannot match "/"), and the match must end at a component boundary.
 */
function parsePattern(original: string): Pattern {
  const negated = original.startsWith('!');
  const comps = goClean(negated ? original.slice(1) : original).split('/');
  const anchored = comps[0] === '';
  const tokens: string[] = [];
  const parts: (Component | null)[] = anchored ? [(c) => c === '/'] : [];
  for (const c of anchored ? comps.slice(1) : comps) {
    if (c === '**' || c === '') {
      parts.push(null);
      if (tokens[tokens.length - 1] !== ANY_COMPONENTS) tokens.push(ANY_COMPONENTS); // "**/**" is "**"
      continue;
    }
    const glob = goComponentRegexSource(c);
    if (glob === undefined) return { original, negated, anchored, source: undefined };
    tokens.push('/' + glob);
    const re = new RegExp(`^(?:${glob})$`, 'u');
    parts.push((x) => re.test(x));
  }
  // Redundant "**" only slows the search down: an unanchored pattern may start at any component anyway,
  // and nothing after the last matched component matters.
  if (!anchored && tokens[0] === ANY_COMPONENTS) tokens.shift();
  if (tokens[tokens.length - 1] === ANY_COMPONENTS) tokens.pop();
  const source = (anchored ? '^' : '') + tokens.join('') + '(?![^/])';
  // With at most one "**" the expansion limit never binds: any match that fits the path is allowed.
  if (parts.filter((x) => x === null).length < 2) return { original, negated, anchored, source };
  return { original, negated, anchored, source, exact: (strs) => countedExpansion(parts, strs, anchored) };
}

/** The patterns restic would refuse ("invalid pattern(s) provided"): a component Go's filepath.Match rejects. */
export function invalidPatterns(patterns: string[]): string[] {
  return patterns.filter((p) => p !== '' && parsePattern(p).source === undefined);
}

/**
 * One ordered list, as restic's filter.List: a path is excluded when the last pattern that matches it is
 * not negated. Empty patterns are ignored. Throws for a malformed pattern.
 */
export function compilePatternList(patterns: string[]): PathMatcher {
  const list = patterns.filter((p) => p !== '').map(parsePattern);
  const bad = list.filter((p) => p.source === undefined).map((p) => p.original);
  if (bad.length > 0)
    throw new RepoError(
      'INVALID_ARGUMENT',
      `invalid exclude pattern(s): ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
    );
  if (list.length === 0) return () => false;
  // Consecutive patterns of the same kind form one alternation: within such a run order does not matter,
  // and one regular expression per run is several times faster than one per pattern.
  const alternation = (ps: Pattern[]) =>
    ps.length === 0 ? /(?!)/ : new RegExp(ps.map((p) => p.source).join('|'), 'u');
  const runs: {
    negated: boolean;
    abs: RegExp;
    rel: RegExp;
    counted: { anchored: boolean; re: RegExp; exact: (strs: string[]) => boolean }[];
  }[] = [];
  for (let i = 0; i < list.length;) {
    let j = i;
    while (j < list.length && list[j].negated === list[i].negated) j++;
    const run = list.slice(i, j);
    const plain = run.filter((p) => p.exact === undefined);
    const abs = alternation(plain);
    // A relative path (restic allows one) has no root, so anchored patterns cannot match it.
    const rel = plain.every((p) => !p.anchored) ? abs : alternation(plain.filter((p) => !p.anchored));
    const counted = run
      .filter((p) => p.exact !== undefined)
      .map((p) => ({ anchored: p.anchored, re: new RegExp(p.source!, 'u'), exact: p.exact! }));
    runs.push({ negated: list[i].negated, abs, rel, counted });
    i = j;
  }
  return (p) => {
    const rooted = p.startsWith('/');
    const s = rooted ? p : '/' + p;
    let excluded = false;
    for (const r of runs) {
      if (excluded !== r.negated) continue; // only a pattern that would change the answer matters
      let hit = (rooted ? r.abs : r.rel).test(s);
      for (let k = 0; !hit && k < r.counted.length; k++) {
        const c = r.counted[k];
        if ((rooted || !c.anchored) && c.re.test(s)) hit = c.exact(splitPath(p));
      }
      if (hit) excluded = !r.negated;
    }
    return excluded;
  };
}

/**
 * Compiles rules into one matcher over absolute paths. Case-sensitive and case-insensitive rules form two
 * separate lists (a "!" in one does not re-include what the other excluded), as in restic.
 */
export function compileRules(rules: ExcludeRule[]): PathMatcher {
  const plain = rules.filter((r) => !r.ignoreCase && r.pattern !== '').map((r) => r.pattern);
  const folded = rules.filter((r) => r.ignoreCase && r.pattern !== '').map((r) => r.pattern.toLowerCase());
  const a = plain.length > 0 ? compilePatternList(plain) : undefined;
  const b = folded.length > 0 ? compilePatternList(folded) : undefined;
  if (b === undefined) return a ?? (() => false);
  if (a === undefined) return (p) => b(p.toLowerCase());
  return (p) => a(p) || b(p.toLowerCase());
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
        if (close === 1)
          width = 2; // "${}": bad syntax, eaten
        else if (close < 0)
          width = 1; // "${" without "}": bad syntax, "${" eaten
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
