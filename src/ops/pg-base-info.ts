// What a base backup records so that `pg restore` can choose it for an LSN or XID target (spec §16):
// - pg_stop_lsn: where the backup becomes consistent, the End-LSN of the backup_manifest that pg_basebackup
//   appends to its tar stream (read from the stream's tail as it passes; nothing is buffered but the tail);
// - pg_next_xid: the server's next transaction id, asked once the stream has ended. Every transaction with
//   an id at or above it started after the backup was consistent, so its commit can be reached from it.

import { spawn } from 'node:child_process';
import { RepoError } from '../core/errors.js';
import type { DatabaseConfig } from './config.js';

/** How much of the stream's end is kept: the manifest's WAL-Ranges is the last thing before the tar trailer. */
const TAIL_BYTES = 256 * 1024;

/** Keeps the last TAIL_BYTES of a byte stream. */
export class StreamTail {
  private parts: Buffer[] = [];
  private size = 0;

  push(b: Uint8Array): void {
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    this.size += b.byteLength;
    while (this.parts.length > 1 && this.size - this.parts[0].length >= TAIL_BYTES) {
      this.size -= this.parts[0].length;
      this.parts.shift();
    }
  }

  bytes(): Buffer {
    const all = Buffer.concat(this.parts);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES));
  }
}

/** The highest End-LSN in the backup_manifest's "WAL-Ranges" found in the tail of a pg_basebackup tar. */
export function stopLsnFromTail(tail: Buffer): string | undefined {
  const text = tail.toString('latin1');
  const at = text.lastIndexOf('"WAL-Ranges"');
  if (at < 0) return undefined;
  let best: bigint | undefined;
  for (const m of text.slice(at).matchAll(/"End-LSN"\s*:\s*"([0-9A-F]{1,8}\/[0-9A-F]{1,8})"/gi)) {
    const v = parseLsn(m[1]);
    if (best === undefined || v > best) best = v;
  }
  return best === undefined ? undefined : formatLsn(best);
}

/** "16/B374D848" as a 64-bit position. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text.trim());
  if (m === null) throw new RepoError('INVALID_ARGUMENT', `${JSON.stringify(text)} is not an LSN (e.g. 0/3000060)`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

export function formatLsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * The server's next transaction id (64 bits, with epoch, as txid_current() shows it), asked with psql as the
 * entry's user; undefined (with the reason logged) when psql cannot ask, so the backup itself still counts.
 */
export async function nextXid(
  db: DatabaseConfig,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<string | undefined> {
  const argv = ['psql', '--no-password', '-X', '-A', '-t', '-q'];
  if (db.host !== undefined) argv.push('--host', db.host);
  if (db.port !== undefined) argv.push('--port', String(db.port));
  if (db.user !== undefined) argv.push('--username', db.user);
  argv.push('--dbname', db.name, '-c', 'SELECT txid_snapshot_xmax(txid_current_snapshot())');
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    // A server that stopped answering must not hold up the snapshot for long.
    const child = spawn(argv[0], argv.slice(1), {
      env: { PGCONNECT_TIMEOUT: '15', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => resolve({ code: null, stdout, stderr: String(err) }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  const xid = out.stdout.trim();
  if (out.code === 0 && /^\d+$/.test(xid)) return xid;
  log(
    `warning: could not ask the server for its next transaction id (--target-xid will not choose this base backup first): ${out.stderr.trim().split('\n').pop() ?? `exit ${out.code}`}`,
  );
  return undefined;
}

/** The summary fields of a base backup whose stream has ended (spec §16); what could not be found is left out. */
export async function baseBackupInfo(
  db: DatabaseConfig,
  tail: StreamTail,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const stop = stopLsnFromTail(tail.bytes());
  if (stop !== undefined) out.pg_stop_lsn = stop;
  else
    log(
      'warning: no backup_manifest WAL-Ranges at the end of the pg_basebackup stream (--no-manifest?): --target-lsn will not choose this base backup first',
    );
  const xid = await nextXid(db, env, log);
  if (xid !== undefined) out.pg_next_xid = xid;
  if (stop !== undefined || xid !== undefined)
    log(`base backup consistent at LSN ${stop ?? '?'}; next transaction id ${xid ?? '?'}`);
  return out;
}
