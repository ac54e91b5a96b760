// The one crash-safe file write (core/atomic-file.ts), sync and async: the final name holds the old or the new
// content, the mode is the one asked for, a failed write leaves no temporary file, and folders are created
// only when asked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syncDir, syncDirSync, writeFileAtomic, writeFileAtomicSync } from '../../src/core/atomic-file.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-file-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const forms = [
  ['async', writeFileAtomic],
  [
    'sync',
    (file: string, data: string | Uint8Array, opts?: Parameters<typeof writeFileAtomicSync>[2]) =>
      // A throw inside the executor becomes the rejection, so both forms are checked alike.
      new Promise<void>((resolve) => {
        writeFileAtomicSync(file, data, opts);
        resolve();
      }),
  ],
] as const;

describe.each(forms)('writeFileAtomic (%s)', (_name, write) => {
  it('creates, then replaces, a file with mode 0600 by default and leaves only the final name', async () => {
    const file = path.join(dir, 'state.json');
    await write(file, '{"a":1}\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    await write(file, Buffer.from([0, 1, 2, 255]));
    expect([...fs.readFileSync(file)]).toEqual([0, 1, 2, 255]);
    expect(fs.readdirSync(dir)).toEqual(['state.json']);
  });

  it('uses the mode given', async () => {
    const file = path.join(dir, 'page.html');
    await write(file, '<p>', { mode: 0o644 });
    expect(fs.statSync(file).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it('fails with ENOENT in a missing folder unless makeDir, which creates it with mode 0700', async () => {
    const file = path.join(dir, 'a', 'b', 'f');
    await expect(write(file, 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(fs.existsSync(path.join(dir, 'a'))).toBe(false);
    await write(file, 'x', { makeDir: true });
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
    expect(fs.statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o700);
  });

  it('removes its temporary file when the rename fails and keeps what stood at the final name', async () => {
    const target = path.join(dir, 'taken');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'kept');
    await expect(write(target, 'new')).rejects.toMatchObject({ code: expect.stringMatching(/^E/) as unknown });
    expect(fs.readdirSync(dir)).toEqual(['taken']);
    expect(fs.readFileSync(path.join(target, 'inside'), 'utf8')).toBe('kept');
  });
});

describe('syncDir', () => {
  it('fsyncs an existing folder and reports a missing one', async () => {
    await syncDir(dir);
    syncDirSync(dir);
    await expect(syncDir(path.join(dir, 'none'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => syncDirSync(path.join(dir, 'none'))).toThrow(/ENOENT/);
  });
});
