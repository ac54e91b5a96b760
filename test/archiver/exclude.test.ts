// The exclude matcher against restic's own test vectors (internal/filter/filter_test.go at v0.14.0: matchTests and
// filterListTests, Windows-only rows left out), plus Go filepath.Match details, os.Expand and --files-from parsing.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRules, expandEnv, goClean, invalidPatterns, parseExcludeFile } from '../../src/archiver/exclude.js';
import { compileExcluder, parseTagFileSpec, tooLarge } from '../../src/archiver/exclude-fs.js';
import { goGlob, readFilesFrom } from '../../src/archiver/files-from.js';
import { goComponentGlob } from '../../src/core/glob.js';
import { prng } from '../helpers/repo.js';

const match = (pattern: string, p: string) => compileRules([{ pattern, ignoreCase: false }])(p);
const list = (patterns: string[], p: string) =>
  compileRules(patterns.map((pattern) => ({ pattern, ignoreCase: false })))(p);

// [pattern, path, matches]
const MATCH_TESTS: [string, string, boolean][] = [
  ['*.go', '/foo/bar/test.go', true],
  ['*.c', '/foo/bar/test.go', false],
  ['*', '/foo/bar/test.go', true],
  ['**', '/foo/bar/test.go', true],
  ['foo*', '/foo/bar/test.go', true],
  ['bar*', '/foo/bar/test.go', true],
  ['/bar*', '/foo/bar/test.go', false],
  ['bar/*', '/foo/bar/test.go', true],
  ['baz/*', '/foo/bar/test.go', false],
  ['bar/test.go', '/foo/bar/test.go', true],
  ['bar/*.go', '/foo/bar/test.go', true],
  ['ba*/*.go', '/foo/bar/test.go', true],
  ['bb*/*.go', '/foo/bar/test.go', false],
  ['test.*', '/foo/bar/test.go', true],
  ['tesT.*', '/foo/bar/test.go', false],
  ['bar/*', '/foo/bar/baz', true],
  ['bar', '/foo/bar', true],
  ['/foo/bar', '/foo/bar', true],
  ['/foo/bar/', '/foo/bar', true],
  ['/foo/bar', '/foo/baz', false],
  ['/foo/bar', '/foo/baz/', false],
  ['/foo///bar', '/foo/bar', true],
  ['/foo/../bar', '/foo/bar', false],
  ['/foo/../bar', '/bar', true],
  ['/foo', '/foo/baz', true],
  ['/foo/', '/foo/baz', true],
  ['/foo/*', '/foo', false],
  ['/foo/*', '/foo/baz', true],
  ['bar', '/foo/bar/baz', true],
  ['bar', '/foo/bar/test.go', true],
  ['/foo/*test.*', '/foo/bar/test.go', false],
  ['/foo/*/test.*', '/foo/bar/test.go', true],
  ['/foo/*/bar/test.*', '/foo/bar/test.go', false],
  ['/*/*/bar/test.*', '/foo/bar/test.go', false],
  ['/*/*/bar/test.*', '/foo/bar/baz/test.go', false],
  ['/*/*/baz/test.*', '/foo/bar/baz/test.go', true],
  ['/*/foo/bar/test.*', '/foo/bar/baz/test.go', false],
  ['/*/foo/bar/test.*', '/foo/bar/baz/test.go', false],
  ['/foo/bar/test.*', 'bar/baz/test.go', false],
  ['/x/y/bar/baz/test.*', 'bar/baz/test.go', false],
  ['/x/y/bar/baz/test.c', 'bar/baz/test.go', false],
  ['baz/test.*', 'bar/baz/test.go', true],
  ['baz/tesT.*', 'bar/baz/test.go', false],
  ['test.go', 'bar/baz/test.go', true],
  ['*.go', 'bar/baz/test.go', true],
  ['*.c', 'bar/baz/test.go', false],
  ['sdk', '/foo/bar/sdk', true],
  ['sdk', '/foo/bar/sdk/test/sdk_foo.go', true],
  ['foo/**/bar/*.go', '/home/user/foo/work/special/project/bar/test.go', true],
  ['foo/**/bar/*.go', '/home/user/foo/bar/test.go', true],
  ['foo/**/bar/*.go', 'x/foo/bar/test.go', true],
  ['foo/**/bar/*.go', 'foo/bar/test.go', true],
  ['foo/**/bar/*.go', 'foo/bar/baz/bar/test.go', true],
  ['foo/**/bar/*.go', '/home/user/foo/test.c', false],
  ['foo/**/bar/*.go', 'bar/foo/main.go', false],
  ['foo/**/bar/*.go', '/foo/bar/main.go', true],
  ['foo/**/bar/*.go', 'bar/main.go', false],
  ['foo/**/bar', '/home/user/foo/x/y/bar', true],
  ['foo/**/bar', '/home/user/foo/x/y/bar/main.go', true],
  ['foo/**/bar/**/x', '/home/user/foo/bar/x', true],
  ['foo/**/bar/**/x', '/home/user/foo/blaaa/blaz/bar/shared/work/x', true],
  ['user/**/important*', '/home/user/work/x/y/hidden/x', false],
  ['user/**/hidden*/**/c', '/home/user/work/x/y/hidden/z/a/b/c', true],
];

// [patterns, path, excluded]
const LIST_TESTS: [string[], string, boolean][] = [
  [[], '/foo/bar/test.go', false],
  [['*.go'], '/foo/bar/test.go', true],
  [['*.go'], '/foo/bar', false],
  [['*.c'], '/foo/bar/test.go', false],
  [['*.go', '*.c'], '/foo/bar/test.go', true],
  [['*'], '/foo/bar/test.go', true],
  [['x'], '/foo/bar/test.go', false],
  [['?'], '/foo/bar/test.go', false],
  [['?', 'x'], '/foo/bar/x', true],
  [['/*/*/bar/test.*'], '/foo/bar/test.go', false],
  [['/*/*/bar/test.*'], '/foo/bar/bar', false],
  [['/*/*/bar/test.*', '*.go'], '/foo/bar/test.go', true],
  [['', '*.c'], '/foo/bar/test.go', false],
  [['!**', '*.go'], '/foo/bar/test.go', true],
  [['!**', '*.c'], '/foo/bar/test.go', false],
  [['/foo/*/test.*', '!*.c'], '/foo/bar/test.c', false],
  [['/foo/*/test.*', '!*.c'], '/foo/bar/test.go', true],
  [['/foo/*/*', '!test.*', '*.c'], '/foo/bar/test.go', false],
  [['/foo/*/*', '!test.*', '*.c'], '/foo/bar/test.c', true],
  [['/foo/*/*', '!test.*', '*.c'], '/foo/bar/file.go', true],
  [['/**/*', '!/foo', '/foo/*', '!/foo/bar'], '/foo/other/test.go', true],
  [['/**/*', '!/foo', '/foo/*', '!/foo/bar'], '/foo/bar', false],
  [['/**/*', '!/foo', '/foo/*', '!/foo/bar'], '/foo/bar/test.go', false],
  [['/**/*', '!/foo', '/foo/*', '!/foo/bar'], '/foo/bar/test.go/child', false],
  [['/**/*', '!/foo', '/foo/*', '!/foo/bar', '/foo/bar/test*'], '/foo/bar/test.go/child', true],
  [['/foo/bar/*'], '/foo', false],
  [['/foo/bar/*', '!/foo/bar/[a-m]*'], '/foo', false],
  [['/foo/**/test.c'], '/foo/bar/foo/bar/test.c', true],
  [['/foo/*/test.c'], '/foo/bar/foo/bar/test.c', false],
];

describe('restic filter semantics', () => {
  it.each(MATCH_TESTS)('Match(%j, %j) = %s', (pattern, p, expected) => {
    expect(match(pattern, p)).toBe(expected);
  });
  it.each(LIST_TESTS)('List(%j, %j) = %s', (patterns, p, expected) => {
    expect(list(patterns, p)).toBe(expected);
  });
  it('"!" re-includes only within its own list; the case-insensitive list is separate', () => {
    const m = compileRules([
      { pattern: '*.txt', ignoreCase: true },
      { pattern: '!b.txt', ignoreCase: false },
      { pattern: '*.md', ignoreCase: false },
      { pattern: '!keep.md', ignoreCase: false },
    ]);
    expect(m('/x/B.TXT')).toBe(true);
    expect(m('/x/b.txt')).toBe(true);
    expect(m('/x/a.md')).toBe(true);
    expect(m('/x/keep.md')).toBe(false);
    expect(m('/x/KEEP.MD')).toBe(false);
  });
  it('counts every "**" as a component when it limits the expansion, as restic does', () => {
    expect(match('**/?/**/**', '/c')).toBe(false);
    expect(match('/a/**/x/**', '/a/b/x')).toBe(false);
    expect(match('/a/**/x/**', '/a/b/x/y')).toBe(true);
    expect(match('/a/**/x', '/a/b/x')).toBe(true);
    expect(match('**/node_modules/**', '/node_modules')).toBe(true); // the root marker leaves room for one "**"
    expect(match('a/**/**/**', '/a')).toBe(false);
    expect(match('a/**/**/**', '/a/b')).toBe(true);
    expect(match('a/**', '/a')).toBe(true);
    expect(list(['*', '!a/**/**/**'], '/a')).toBe(true);
    expect(list(['*', '!a/**/**/**'], '/a/b')).toBe(false);
  });
  it('cleans patterns as Go paths', () => {
    expect(goClean('')).toBe('.');
    expect(goClean('a//b/./c/..')).toBe('a/b');
    expect(goClean('/../a/')).toBe('/a');
    expect(goClean('../../a')).toBe('../../a');
    expect(goClean('/')).toBe('/');
    expect(match('/', '/anything/below')).toBe(true); // "/" is "/**"
    expect(match('./foo/../bar/', '/x/bar/y')).toBe(true);
  });
  it('refuses the patterns restic refuses', () => {
    expect(invalidPatterns(['[a', 'ok', 'x/[]a]', '[a-]', 'a\\', '[-a]', '', '[z-a]', '\\[a]', '!**'])).toEqual([
      '[a',
      'x/[]a]',
      '[a-]',
      'a\\',
      '[-a]',
    ]);
    expect(() => compileRules([{ pattern: '[a', ignoreCase: false }])).toThrow(/invalid exclude pattern/);
  });
});

/**
 * A literal port of restic's filter.match (v0.14.0), "**" expanded into "*" components one at a time, with
 * goComponentGlob as filepath.Match: the oracle the whole-path regular expressions are checked against.
 */
function resticMatch(pattern: string, p: string): boolean {
  const split = (x: string) => {
    const parts = x.split('/');
    if (parts[0] === '') parts[0] = '/';
    return parts;
  };
  const parts = split(goClean(pattern)).map((c) => (c === '**' ? '' : c));
  const strs = split(p);
  const m = (pat: string[]): boolean => {
    const pos = pat.indexOf('');
    if (pos >= 0) {
      for (let i = 0; i <= strs.length - pat.length + 1; i++) {
        const expanded = [...pat.slice(0, pos), ...Array<string>(i).fill('*'), ...pat.slice(pos + 1)];
        if (m(expanded)) return true;
      }
      return false;
    }
    if (pat.length === 0) return strs.length === 0;
    if (pat.length > strs.length) return false;
    let min = 0;
    let max = strs.length - pat.length;
    if (pat[0] === '/') max = 0;
    else if (strs[0] === '/') min = 1;
    outer: for (let off = max; off >= min; off--) {
      for (let i = pat.length - 1; i >= 0; i--) {
        const ok =
          pat[i] === '/' ? strs[off + i] === '/' : strs[off + i] !== '/' && goComponentGlob(pat[i])!(strs[off + i]);
        if (!ok) continue outer;
      }
      return true;
    }
    return false;
  };
  return m(parts);
}

describe('whole-path regular expressions agree with the port of restic', () => {
  it('on 20,000 random pattern and path pairs', () => {
    const rand = prng(7);
    const rnd = (n: number) => Math.floor(rand() * n);
    const pcomps = ['a', 'b', 'ab', '*', '?', '**', '[ab]', '[^a]', 'a*', '*b', '.', '..', ''];
    const scomps = ['a', 'b', 'ab', 'ba', 'c', 'aa'];
    let matched = 0;
    for (let t = 0; t < 20_000; t++) {
      const pattern =
        (rnd(3) === 0 ? '/' : '') + Array.from({ length: 1 + rnd(4) }, () => pcomps[rnd(pcomps.length)]).join('/');
      const p = '/' + Array.from({ length: 1 + rnd(5) }, () => scomps[rnd(scomps.length)]).join('/');
      const expected = resticMatch(pattern, p);
      if (expected) matched++;
      expect(match(pattern, p), `${pattern} on ${p}`).toBe(expected);
    }
    expect(matched).toBeGreaterThan(4000);
    expect(matched).toBeLessThan(16000);
  });
});

describe("Go's filepath.Match on one component", () => {
  const g = (pattern: string, name: string) => goComponentGlob(pattern)!(name);
  it('classes: "^" negates, "!" is an ordinary member, reversed ranges match nothing', () => {
    expect(g('[!a]x', '!x')).toBe(true);
    expect(g('[!a]x', 'bx')).toBe(false);
    expect(g('[^a]x', 'bx')).toBe(true);
    expect(g('[^a]x', 'ax')).toBe(false);
    expect(g('[z-a]', 'm')).toBe(false);
    expect(g('[^z-a]', 'm')).toBe(true);
    expect(g('[a\\]]', ']')).toBe(true);
  });
  it('escapes, characters beyond ASCII and newlines in names', () => {
    expect(g('x\\*y', 'x*y')).toBe(true);
    expect(g('x\\*y', 'xzy')).toBe(false);
    expect(g('?', 'é')).toBe(true);
    expect(g('?', '😀')).toBe(true);
    expect(g('a*b', 'a\nb')).toBe(true);
    expect(g('{a,b}', 'a')).toBe(false);
    expect(g('{a,b}', '{a,b}')).toBe(true);
    expect(g('+(a)', '+(a)')).toBe(true);
    expect(g('a]', 'a]')).toBe(true);
  });
  it('rejects malformed patterns', () => {
    for (const p of ['[', '[a', '[]', '[]a]', '[^]', '[a-', '[a-]', '[a-c-]', '\\', 'x\\', '[\\'])
      expect(goComponentGlob(p), p).toBeUndefined();
  });
});

describe('exclude files', () => {
  const env = { HOME: '/home/u', EMPTY: '', A_1: 'v' };
  it("expands variables as Go's os.Expand with restic's $$", () => {
    expect(expandEnv('$HOME/x', env)).toBe('/home/u/x');
    expect(expandEnv('${HOME}x', env)).toBe('/home/ux');
    expect(expandEnv('$A_1.$A_1', env)).toBe('v.v');
    expect(expandEnv('a$$b', env)).toBe('a$b');
    expect(expandEnv('cost$', env)).toBe('cost$');
    expect(expandEnv('a$/b', env)).toBe('a$/b');
    expect(expandEnv('a${}b', env)).toBe('ab');
    expect(expandEnv('a${HOME', env)).toBe('aHOME');
    expect(expandEnv('$UNSET/x', env)).toBe('/x');
    expect(expandEnv('$1x', env)).toBe('x');
    expect(expandEnv('~/x', env)).toBe('~/x');
  });
  it('trims lines, skips blanks and comments, drops a BOM and CRs, decodes UTF-16', () => {
    const text = '\uFEFF# comment\r\n  *.tmp  \r\n\r\n\t#x\n$HOME/cache\nlast';
    expect(parseExcludeFile(Buffer.from(text, 'utf8'), env)).toEqual(['*.tmp', '/home/u/cache', 'last']);
    expect(parseExcludeFile(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a\nb\n', 'utf16le')]), env)).toEqual(
      ['a', 'b'],
    );
    expect(
      parseExcludeFile(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('a\nb\n', 'utf16le').swap16()]), env),
    ).toEqual(['a', 'b']);
  });
});

describe('file system excludes and --files-from', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'excl-unit-'));
  const w = (rel: string, data = rel) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
  };
  w('t/CACHEDIR.TAG', 'Signature: 8a477f597d28d172789f06886806bc55 rest');
  w('t/x');
  w('bad/CACHEDIR.TAG', 'Signature: 0');
  w('bad/x');
  w('plain/x');
  w('.dot');
  w('b');
  w('a');

  it('keeps the tag file, excludes its siblings, warns about a wrong header', () => {
    const warnings: string[] = [];
    const m = compileExcluder(
      { excludeIfPresent: ['CACHEDIR.TAG:Signature: 8a477f597d28d172789f06886806bc55'] },
      (p, msg) => warnings.push(`${path.relative(dir, p)} ${msg}`),
    );
    expect(m(path.join(dir, 't/x'))).toBe(true);
    expect(m(path.join(dir, 't/CACHEDIR.TAG'))).toBe(false);
    expect(m(path.join(dir, 't'))).toBe(false);
    expect(m(path.join(dir, 'bad/x'))).toBe(false);
    expect(m(path.join(dir, 'plain/x'))).toBe(false);
    expect(warnings).toEqual(['bad/CACHEDIR.TAG invalid (too short) signature in exclusion tagfile']);
  });
  it('validates FILE[:HEADER] and sizes', () => {
    expect(parseTagFileSpec('a:b:c')).toEqual({ name: 'a', header: 'b:c' });
    expect(() => parseTagFileSpec('')).toThrow(/--exclude-if-present/);
    expect(() => parseTagFileSpec(':x')).toThrow(/file name is empty/);
    const st = (size: number, dir = false) => ({ size: BigInt(size), isDirectory: () => dir });
    expect(tooLarge(st(11), 10)).toBe(true);
    expect(tooLarge(st(10), 10)).toBe(false);
    expect(tooLarge(st(1e9, true), 10)).toBe(false);
    expect(tooLarge(st(1e9), undefined)).toBe(false);
  });
  it('globs like filepath.Glob: sorted, "*" matches dot files, literal paths only when they exist', () => {
    expect(goGlob(path.join(dir, '*')).map((p) => path.relative(dir, p))).toEqual([
      '.dot',
      'a',
      'b',
      'bad',
      'plain',
      't',
    ]);
    expect(goGlob(path.join(dir, '*/x')).map((p) => path.relative(dir, p))).toEqual(['bad/x', 'plain/x', 't/x']);
    expect(goGlob(path.join(dir, 'nope'))).toEqual([]);
    expect(() => goGlob(path.join(dir, '[a'))).toThrow(/syntax error in pattern/);
  });
  it('reads the three list formats and reports names that are missing', () => {
    const f = (name: string, data: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, data);
      return p;
    };
    const r = readFilesFrom([
      { kind: 'files-from', file: f('l1', `# c\n ${dir}/a \n${dir}/[p]lain\n${dir}/gone*\n`) },
      { kind: 'files-from-verbatim', file: f('l2', `${dir}/b\n\n${dir}/ b\n`) },
      { kind: 'files-from-raw', file: f('l3', `${dir}/t\0${dir}/missing\0`) },
    ]);
    expect(r.targets.map((p) => path.relative(dir, p))).toEqual(['a', 'plain', 'b', 't']);
    expect(r.missing.map((m) => `${path.relative(dir, m.target)}: ${m.message}`)).toEqual([
      'gone*: pattern does not match any files, skipping',
      ' b: does not exist, skipping',
      'missing: does not exist, skipping',
    ]);
    expect(() => readFilesFrom([{ kind: 'files-from-raw', file: f('l4', `${dir}/a`) }])).toThrow(
      /trailing zero byte missing/,
    );
    expect(() => readFilesFrom([{ kind: 'files-from-raw', file: f('l5', `${dir}/a\0\0`) }])).toThrow(/empty file name/);
    expect(() => readFilesFrom([{ kind: 'files-from', file: path.join(dir, 'no-list') }])).toThrow(
      /--files-from: cannot read .*no such file/,
    );
  });
});
