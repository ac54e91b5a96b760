// (c) random: incompressible data (AES-256-CTR keystream under a fixed key) in 16 equal files;
// change = 1 % of the bytes overwritten in place, in 64 KiB regions at deterministic scattered offsets.

import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, openSync, writeSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { cached, copyContents, emptyDir, prng } from '../fsutil.mjs';

const FILES = 16;
const REGION = 64 * 1024;

function keystream(label, iv) {
  const key = createHash('sha256').update(`repo-bench ${label}`).digest();
  return createCipheriv('aes-256-ctr', key, iv);
}

function ivFor(n) {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(n, 0);
  return iv;
}

async function writeRandomFile(path, index, size) {
  const c = keystream('random v1', ivFor(index));
  const zeros = Buffer.alloc(4 << 20);
  const ws = createWriteStream(path);
  for (let done = 0; done < size; done += zeros.length) {
    const chunk = c.update(zeros.subarray(0, Math.min(zeros.length, size - done)));
    if (!ws.write(chunk)) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'finish');
}

const name = (i) => `data-${String(i).padStart(2, '0')}.bin`;

export default {
  name: 'random',
  letter: 'c',
  big: true,
  async prepare({ cache, quick, log }) {
    const total = quick ? 128 * 2 ** 20 : 2 ** 30;
    const fileSize = total / FILES;
    const dir = join(cache, 'random', `${total / 2 ** 20}MiB`);
    await cached(dir, `aes-256-ctr ${FILES}x${fileSize}`, async (tmp) => {
      log(`  generating ${total / 2 ** 20} MiB of random data`);
      for (let i = 0; i < FILES; i++) await writeRandomFile(join(tmp, name(i)), i, fileSize);
    });
    const regions = Math.ceil((total * 0.01) / REGION);
    return {
      description: `${total / 2 ** 20} MiB of incompressible data in ${FILES} files; change: ${regions} scattered 64 KiB regions (1 %) overwritten in place`,
      params: { total, files: FILES, regions },
      estimateBytes: total,
      v1Label: 'v1',
      setup(work) {
        emptyDir(work);
        copyContents(dir, work);
      },
      changes: [
        {
          label: '1 % overwritten in place',
          apply(work) {
            const rnd = prng(20240601);
            const c = keystream('random v2', ivFor(0));
            const zeros = Buffer.alloc(REGION);
            for (let k = 0; k < regions; k++) {
              const file = Math.floor(rnd() * FILES);
              const off = Math.floor(rnd() * (fileSize - REGION));
              const fd = openSync(join(work, name(file)), 'r+');
              writeSync(fd, c.update(zeros), 0, REGION, off);
              closeSync(fd);
            }
          },
        },
      ],
    };
  },
};
