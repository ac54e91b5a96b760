#!/usr/bin/env node
// What the `repo` bundle starts: archive_command's common case (a WAL file the asynchronous pusher has
// already stored, cli/wal-ack.ts) is answered without building the program; everything else runs main.
// Must never decide anything but "acknowledged": every other outcome belongs to main.

import { acknowledgedPush } from './wal-ack.js';

async function start(): Promise<void> {
  if (process.argv.includes('--spool') || process.argv.some((a) => a.startsWith('--spool='))) {
    if (await acknowledgedPush(process.argv)) return;
  }
  await import('./main.js');
}

void start();
