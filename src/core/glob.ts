// Glob patterns as regular-expression source, shared by backup excludes, restore filters and find.
// Pure string work: `*` and `?` stay within one path component, `**` spans components, `[...]`/`[!...]` are classes.

export function globToRegexSource(glob: string): string {
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

/**
 * One path component matched as Go's `filepath.Match` does on Unix (restic's exclude and --files-from globs):
 * `*` any run of characters, `?` one character, `[...]` a class negated by `^` (a `!` is literal there),
 * `\` escapes the next character. Returns undefined for a pattern Go rejects as malformed (`[a`, `[]`,
 * `[a-]`, a trailing `\`), so callers can refuse it as restic does.
 */
export function goComponentGlob(pattern: string): ((name: string) => boolean) | undefined {
  if (!/[\\[*?]/.test(pattern)) return (name) => name === pattern;
  const src = goComponentRegexSource(pattern);
  if (src === undefined) return undefined;
  const re = new RegExp(`^(?:${src})$`, 'u');
  return (name) => re.test(name);
}

/**
 * Regular-expression source (for the `u` flag) matching exactly what the Go glob `pattern` matches within
 * one path component; it never matches a "/", so it can be placed between separators of a whole path.
 */
export function goComponentRegexSource(pattern: string): string | undefined {
  const chars = Array.from(pattern); // code points: `?` and class members are characters, not UTF-16 units
  let re = '';
  const lit = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= chars.length) return undefined;
      re += lit(chars[++i]);
    } else if (c === '[') {
      let j = i + 1;
      let negated = false;
      if (chars[j] === '^') {
        negated = true;
        j++;
      }
      let ranges = '';
      let n = 0;
      // Go's getEsc: a member is a character or `\c`; `-` and `]` may not start a member; more must follow.
      const member = (): string | undefined => {
        if (j >= chars.length || chars[j] === '-' || chars[j] === ']') return undefined;
        if (chars[j] === '\\') {
          j++;
          if (j >= chars.length) return undefined;
        }
        const m = chars[j++];
        return j >= chars.length ? undefined : m;
      };
      for (;;) {
        if (chars[j] === ']' && n > 0) break;
        const lo = member();
        if (lo === undefined) return undefined;
        let hi = lo;
        if (chars[j] === '-') {
          j++;
          const h = member();
          if (h === undefined) return undefined;
          hi = h;
        }
        // A reversed range is legal in Go and matches nothing; a JS class would reject it.
        if (lo.codePointAt(0)! <= hi.codePointAt(0)!) ranges += lo === hi ? lit(lo) : `${lit(lo)}-${lit(hi)}`;
        n++;
      }
      if (negated) re += `[^/${ranges}]`;
      else re += ranges === '' ? '[]' : `(?!/)[${ranges}]`;
      i = j; // at the closing `]`
    } else re += lit(c);
  }
  return re;
}
