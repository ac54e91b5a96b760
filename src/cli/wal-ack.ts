// The light path of `repo wal push --spool DIR FILE`: when the background pusher has already acknowledged
// FILE with the same SHA-256, answer PostgreSQL at once, without building the command-line program or
// loading any repository code (most of what a `repo` process costs). Anything else — no acknowledgement,
// other bytes, options this parser does not know — returns false and the full program decides.

import path from 'node:path';
import { isWalName } from '../ops/pg-wal-name.js';
import { fileDigest, fileIdentity, WalSpool } from '../ops/pg-wal-spool.js';

/** Options that take no value and may appear anywhere; any other option (or a value) is left to the full program. */
const FLAGS = new Set(['-q', '--quiet', '-v', '--verbose']);
/** Options with a value that this path reads or may ignore (the pusher uses them, the acknowledgement does not). */
const VALUED = new Set(['--spool', '--profile', '--config', '--timeout']);

/** Resolves true after printing the answer when FILE is acknowledged; false when the full program must run. */
export async function acknowledgedPush(argv: string[]): Promise<boolean> {
  const args = argv.slice(2);
  const wal = args.indexOf('wal');
  if (wal < 0 || args[wal + 1] !== 'push') return false;
  const rest = [...args.slice(0, wal), ...args.slice(wal + 2)];
  const values = new Map<string, string>();
  const positional: string[] = [];
  let quiet = false;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const eq = a.indexOf('=');
    const opt = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (FLAGS.has(a)) quiet ||= a === '-q' || a === '--quiet';
    else if (VALUED.has(opt)) {
      const v = opt === a ? rest[++i] : a.slice(eq + 1);
      if (v === undefined) return false;
      values.set(opt, v);
    } else if (a.startsWith('-')) return false;
    else positional.push(a);
  }
  const spool = values.get('--spool');
  if (spool === undefined || positional.length !== 1 || !values.has('--profile')) return false;
  const file = positional[0];
  const name = path.basename(file);
  if (!isWalName(name)) return false;
  try {
    const ack = await new WalSpool(path.resolve(spool)).readAck(name);
    if (ack === undefined) return false;
    // The file as the pusher read it (same inode, size, mtime, ctime): its digest is the acknowledged one.
    // Hashing 16 MiB was most of what this path cost (bench/pg-pitr.sh, README).
    if (ack.identity === undefined || ack.identity !== (await fileIdentity(path.resolve(file)))) {
      const d = await fileDigest(path.resolve(file));
      if (d.sha256 !== ack.sha256 || d.size !== ack.size) return false;
    }
    if (!quiet) process.stdout.write(`${name}: archived as snapshot ${ack.snapshot.slice(0, 8)} (asynchronous)\n`);
    return true;
  } catch {
    return false; // the full program reports what is wrong
  }
}
