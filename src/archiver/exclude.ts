// Exclude patterns for backup (restic-style globs): `*`, `?`, `[...]`, `**` across directories.
// A pattern with a leading "/" is anchored at the root; others match at any depth. Pure, no I/O.

export interface ExcludeRule {
  pattern: string;
  ignoreCase: boolean;
}

export type PathMatcher = (absPath: string) => boolean;

function globToRegexSource(glob: string): string {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return re;
}

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
