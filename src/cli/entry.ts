#!/usr/bin/env node
// What the `repo` bundle starts: archive_command's common case (a WAL file the asynchronous pusher has
// already stored, cli/wal-ack.ts) is answered without building the program; everything else runs main.
// Must never decide anything but "acknowledged": every other outcome belongs to main. Bundled on its own
// (scripts/bundle.mjs), so that answer costs compiling a few KiB rather than the whole program.

import { fileURLToPath } from 'node:url';
import { acknowledgedPush } from './wal-ack.js';

/** The script a child `repo` runs (main.ts reads it): this entry, not main's own file (a separate bundle). */
(globalThis as { repoCliScript?: string }).repoCliScript = fileURLToPath(import.meta.url);

async function start(): Promise<void> {
  if (process.argv.includes('--spool') || process.argv.some((a) => a.startsWith('--spool='))) {
    if (await acknowledgedPush(process.argv)) return;
  }
  await import('./main.js');
}

void start();
