#!/usr/bin/env node
// What the `repo` command starts. Three cases are answered before the program is loaded (the bundle keeps main in
// a file of its own, dist/bundle/main.js, so these do not even compile it): `repo version`; the overview of all
// commands (`repo`, `repo --help`, `-h`, `help`) from the description the build wrote (cli/help-manifest.ts);
// and archive_command's common case, a WAL file the asynchronous pusher has already stored (cli/wal-ack.ts),
// which must never decide anything but "acknowledged": every other outcome belongs to main.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { versionLine } from '../core/version.js';
import type { HelpManifest } from './help-manifest.js';
import { acknowledgedPush } from './wal-ack.js';

async function start(): Promise<void> {
  const args = process.argv.slice(2);
  // A reader that goes away (`repo --help | head -3`) fails our next write with EPIPE; without a listener
  // Node would throw it with a stack trace. main.ts sets the same listener for every other command.
  process.stdout.on('error', () => undefined);
  if (args.length === 1 && (args[0] === 'version' || args[0] === '--version')) {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  if (args.length === 0 || (args.length === 1 && ['--help', '-h', 'help'].includes(args[0]))) {
    const manifest = overviewManifest();
    if (manifest !== undefined) {
      const { printOverview } = await import('./help-manifest.js');
      process.exitCode = printOverview(manifest, process.argv);
      return;
    }
  }
  if (args.includes('--spool') || args.some((a) => a.startsWith('--spool='))) {
    if (await acknowledgedPush(process.argv)) return;
  }
  const { runCli } = await import('./main.js');
  runCli(fileURLToPath(import.meta.url));
}

/** dist/bundle/help.json, written by `npm run build` beside this file; absent when run from dist/cli or src/. */
function overviewManifest(): HelpManifest | undefined {
  let text: string;
  try {
    text = readFileSync(fileURLToPath(new URL('help.json', import.meta.url)), 'utf8');
  } catch {
    return undefined;
  }
  return JSON.parse(text) as HelpManifest;
}

void start();
