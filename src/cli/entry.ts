#!/usr/bin/env node
// What the `repo` command starts. Two cases are answered before the program is loaded (the bundle keeps main in a
// file of its own, dist/bundle/main.js, so these do not even compile it): `repo version`, and archive_command's
// common case, a WAL file the asynchronous pusher has already stored (cli/wal-ack.ts), which must never decide
// anything but "acknowledged": every other outcome belongs to main.

import { fileURLToPath } from 'node:url';
import { versionLine } from '../core/version.js';
import { acknowledgedPush } from './wal-ack.js';

async function start(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 1 && (args[0] === 'version' || args[0] === '--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  if (args.includes('--spool') || args.some((a) => a.startsWith('--spool='))) {
    if (await acknowledgedPush(process.argv)) return;
  }
  const { runCli } = await import('./main.js');
  runCli(fileURLToPath(import.meta.url));
}

void start();
