// Unit tests of the CLI's pure helpers: argument parsing, formatting and the tar header encoder.
// The commands themselves are tested end to end in test/e2e/cli.test.ts.

import { describe, expect, it } from 'vitest';
import { formatBytes, formatElapsed, modeString, renderTable } from '../../src/cli/format.js';
import {
  flattenTags,
  parseChunker,
  parseSize,
  parseTime,
  parseWaitDuration,
  splitSnapshotPath,
  tagFilter,
} from '../../src/cli/parse.js';
import { BLOCK, encodeHeader, padding } from '../../src/dump/tar.js';

describe('argument parsing', () => {
  it('sizes use binary units', () => {
    expect(parseSize('16M', 'x')).toBe(16 * 1024 * 1024);
    expect(parseSize('512k', 'x')).toBe(512 * 1024);
    expect(parseSize('8MiB', 'x')).toBe(8 * 1024 * 1024);
    expect(parseSize('4096', 'x')).toBe(4096);
    expect(parseSize('1.5M', 'x')).toBe(1.5 * 1024 * 1024); // one grammar (src/core/units.ts): fractions everywhere
    expect(() => parseSize('1,5M', '--pack-size')).toThrow(/--pack-size/);
    expect(parseChunker('512K/1M/8M')).toMatchObject({ min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 });
    expect(() => parseChunker('1M/2M')).toThrow(/MIN\/AVG\/MAX/);
  });

  it('times: RFC 3339 with fractions and offsets, and local "YYYY-MM-DD HH:MM:SS"', () => {
    expect(parseTime('2024-02-03T04:05:06.789123456+02:00').toISOString()).toBe('2024-02-03T02:05:06.789Z');
    expect(parseTime('2024-02-03T04:05:06Z').toISOString()).toBe('2024-02-03T04:05:06.000Z');
    expect(parseTime('2024-02-03T04:05:06.5-05:30').toISOString()).toBe('2024-02-03T09:35:06.500Z');
    expect(parseTime('2024-02-03 04:05:06').getTime()).toBe(new Date(2024, 1, 3, 4, 5, 6).getTime());
    // A date alone is its local midnight (find --newest 2026-01-01).
    expect(parseTime('2026-01-01', '--newest').getTime()).toBe(new Date(2026, 0, 1).getTime());
    for (const bad of [
      '2024-02-30 00:00:00',
      '2024-13-01T00:00:00Z',
      'yesterday',
      '2024-02-03T04:05:06+25:00',
      '2024-02-30',
      '2024-1-01',
    ]) {
      expect(() => parseTime(bad)).toThrow(/invalid --time/);
    }
  });

  it('tags, tag filters, wait durations and SNAPSHOT:PATH', () => {
    expect(flattenTags(['a,b', ' c ', ''])).toEqual(['a', 'b', 'c']);
    expect(tagFilter(['a,b', 'c'])).toEqual([['a', 'b'], ['c']]);
    expect(tagFilter([])).toBeUndefined();
    expect(parseWaitDuration('1h30m', 'x')).toBe(5_400_000);
    expect(parseWaitDuration('45', 'x')).toBe(45_000);
    expect(() => parseWaitDuration('5 minutes', 'x')).toThrow();
    expect(splitSnapshotPath('latest:/a/b:c')).toEqual({ ref: 'latest', path: '/a/b:c' });
    expect(splitSnapshotPath('abcd')).toEqual({ ref: 'abcd' });
  });
});

describe('formatting', () => {
  it('bytes, durations, modes and tables', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1001.7065499939841)).toBe('1002 B'); // a rate below 1 KiB/s, never a raw float
    expect(formatBytes(1536)).toBe('1.500 KiB');
    expect(formatElapsed(5)).toBe('0:05');
    expect(formatElapsed(3723)).toBe('1:02:03');
    expect(modeString('file', 0o644)).toBe('-rw-r--r--');
    expect(modeString('dir', 0o2755)).toBe('drwxr-sr-x');
    expect(modeString('file', 0o4754 | 0o1000)).toBe('-rwsr-xr-T');
    expect(modeString('symlink', 0o777)).toBe('lrwxrwxrwx');
    const t = renderTable(['ID', 'Paths'], [['abc', '/x\n/y']]).split('\n');
    expect(t).toEqual(['ID   Paths', '----------', 'abc  /x', '     /y', '----------']);
  });
});

/** Parses the fields of one ustar header block that the tests look at, and checks its checksum. */
function readHeader(h: Buffer): {
  name: string;
  prefix: string;
  size: number;
  type: string;
  linkname: string;
  magic: string;
} {
  const str = (o: number, n: number) =>
    h
      .subarray(o, o + n)
      .toString('latin1')
      .replace(/\0.*$/s, '');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  expect(parseInt(str(148, 8), 8)).toBe(sum);
  return {
    name: str(0, 100),
    prefix: str(345, 155),
    size: parseInt(str(124, 12), 8),
    type: str(156, 1),
    linkname: str(157, 100),
    magic: str(257, 6),
  };
}

const base = { mode: 0o644, uid: 1000, gid: 1000, uname: 'u', gname: 'g', mtime: 1_700_000_000, size: 0 };

describe('tar headers', () => {
  it('a short ASCII name fits one ustar block; directories get a trailing slash', () => {
    const h = encodeHeader({ ...base, name: Buffer.from('dir/file.txt'), type: 'file', size: 1234 });
    expect(h.length).toBe(BLOCK);
    expect(readHeader(h)).toMatchObject({ name: 'dir/file.txt', size: 1234, type: '0', magic: 'ustar' });
    expect(readHeader(encodeHeader({ ...base, name: Buffer.from('dir'), type: 'dir' })).name).toBe('dir/');
    expect(padding(1234).length).toBe(BLOCK - (1234 % BLOCK));
    expect(padding(BLOCK).length).toBe(0);
  });

  it('a long ASCII path is split into prefix and name when it can be', () => {
    const name = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const h = encodeHeader({ ...base, name: Buffer.from(name), type: 'file' });
    expect(h.length).toBe(BLOCK);
    expect(readHeader(h)).toMatchObject({ prefix: 'd'.repeat(120), name: 'f'.repeat(90) });
  });

  it('long, non-ASCII and non-UTF-8 names, long link targets and big sizes go into a pax header', () => {
    const long = encodeHeader({ ...base, name: Buffer.from('x'.repeat(300)), type: 'file' });
    expect(long.length).toBe(3 * BLOCK);
    expect(readHeader(long).type).toBe('x');
    const records = long.subarray(BLOCK, 2 * BLOCK).toString('utf8');
    expect(records).toContain(`path=${'x'.repeat(300)}\n`);
    const [len] = records.split(' ');
    expect(Number(len)).toBe(Buffer.byteLength(`${len} path=${'x'.repeat(300)}\n`));

    const utf8 = encodeHeader({ ...base, name: Buffer.from('données/日本語'), type: 'file' });
    expect(utf8.subarray(BLOCK, 2 * BLOCK).toString('utf8')).toContain('path=données/日本語\n');

    const raw = encodeHeader({ ...base, name: Buffer.from([0x72, 0xff, 0xfe]), type: 'file' });
    const rawRecords = raw.subarray(BLOCK, 2 * BLOCK);
    expect(rawRecords.toString('latin1')).toContain('hdrcharset=BINARY\n');
    expect(rawRecords.includes(Buffer.from([0x72, 0xff, 0xfe, 0x0a]))).toBe(true);

    const link = encodeHeader({
      ...base,
      name: Buffer.from('l'),
      type: 'symlink',
      linkname: Buffer.from('t'.repeat(150)),
    });
    expect(link.subarray(BLOCK, 2 * BLOCK).toString('utf8')).toContain(`linkpath=${'t'.repeat(150)}\n`);

    const big = encodeHeader({ ...base, name: Buffer.from('big'), type: 'file', size: 10 * 1024 ** 3 });
    expect(big.subarray(BLOCK, 2 * BLOCK).toString('utf8')).toContain(`size=${10 * 1024 ** 3}\n`);
    expect(readHeader(big.subarray(2 * BLOCK)).size).toBe(0);
  });
});
