// The spool directory of asynchronous WAL archiving (`repo wal push --spool DIR`, like pgBackRest's
// archive-async): requests left by archive_command, acknowledgements, failures and the pusher's pid file.
// Only the pusher writes an acknowledgement, and only after the segment's snapshot is stored; nothing here
// holds a key or a password, so the spool may sit on any local disk.

import { createHash } from 'node:crypto';
import { open, mkdir, readFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../core/atomic-file.js';
import { errorMessage, isRepoError, type ErrorCode } from '../core/errors.js';
import { isWalName } from './pg-wal-name.js';

/** What the pusher records once a WAL file is in the repository; archive_command compares the digest. */
export interface WalAck {
  name: string;
  sha256: string;
  size: number;
  snapshot: string;
  outcome: 'stored' | 'present';
  /**
   * The file's identity (fileIdentity) while the pusher read it, when it did not change during the read:
   * archive_command accepts a file that still has it without hashing it again (as git and restic trust
   * unchanged metadata). PostgreSQL never rewrites a finished segment in place; any write changes mtime
   * and ctime, and a recycled segment gets a new name.
   */
  identity?: string;
}

/** Why the pusher could not archive a requested file: archive_command prints it and exits non-zero. */
export interface WalFailure {
  name: string;
  code: ErrorCode | 'UNKNOWN';
  message: string;
}

/** A WAL file to archive: its name and where it is. */
export interface WalWork {
  name: string;
  path: string;
}

/** SHA-256 and size of a file, read through one reused 1 MiB buffer (a 16 MiB segment costs no garbage). */
export async function fileDigest(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fh = await open(file, 'r');
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/** Device, inode, size, mtime and ctime (nanoseconds) of a file: what changes when its content can have. */
export async function fileIdentity(file: string): Promise<string> {
  const st = await stat(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined; // absent, or torn by a crash before its rename (then it was never acknowledged)
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class WalSpool {
  constructor(readonly dir: string) {}

  private sub(kind: 'queue' | 'acked' | 'failed', name: string): string {
    return path.join(this.dir, kind, name);
  }

  get pidFile(): string {
    return path.join(this.dir, 'pusher.pid');
  }

  get logFile(): string {
    return path.join(this.dir, 'pusher.log');
  }

  async init(): Promise<void> {
    for (const d of ['queue', 'acked', 'failed']) await mkdir(path.join(this.dir, d), { recursive: true, mode: 0o700 });
  }

  readAck(name: string): Promise<WalAck | undefined> {
    return readJson<WalAck>(this.sub('acked', name));
  }

  writeAck(ack: WalAck): Promise<void> {
    return writeFileAtomic(this.sub('acked', ack.name), JSON.stringify(ack) + '\n');
  }

  readFailure(name: string): Promise<WalFailure | undefined> {
    return readJson<WalFailure>(this.sub('failed', name));
  }

  async writeFailure(name: string, err: unknown): Promise<void> {
    const f: WalFailure = { name, code: isRepoError(err) ? err.code : 'UNKNOWN', message: errorMessage(err) };
    await writeFileAtomic(this.sub('failed', name), JSON.stringify(f) + '\n');
  }

  async clearFailure(name: string): Promise<void> {
    await unlink(this.sub('failed', name)).catch(() => undefined);
  }

  /** Asks the pusher to archive `file` (an absolute path), whether or not PostgreSQL marked it ready. */
  request(name: string, file: string): Promise<void> {
    return writeFileAtomic(this.sub('queue', name), file);
  }

  async dropRequest(name: string): Promise<void> {
    await unlink(this.sub('queue', name)).catch(() => undefined);
  }

  async requests(): Promise<WalWork[]> {
    const out: WalWork[] = [];
    for (const name of await readdir(path.join(this.dir, 'queue')).catch(() => [] as string[])) {
      if (!isWalName(name)) continue;
      const file = await readFile(this.sub('queue', name), 'utf8').catch(() => '');
      if (file !== '') out.push({ name, path: file });
    }
    return out;
  }

  /** The files PostgreSQL has marked ready for archiving in a pg_wal directory (archive_status/NAME.ready). */
  async ready(walDir: string): Promise<WalWork[]> {
    const status = await readdir(path.join(walDir, 'archive_status')).catch(() => [] as string[]);
    return status
      .filter((f) => f.endsWith('.ready') && isWalName(f.slice(0, -6)))
      .map((f) => ({ name: f.slice(0, -6), path: path.join(walDir, f.slice(0, -6)) }));
  }

  /** The pid in the pid file when that process is alive. */
  async pusherPid(): Promise<number | undefined> {
    const pid = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
  }

  /** Becomes the one pusher of this spool (an exclusive create of the pid file; a dead owner's file is taken over). */
  async lockPusher(): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(this.pidFile, 'wx', 0o600);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if ((await this.pusherPid()) !== undefined) return false;
        await unlink(this.pidFile).catch(() => undefined);
      }
    }
    return false;
  }

  async unlockPusher(): Promise<void> {
    const pid = Number((await readFile(this.pidFile, 'utf8').catch(() => '')).trim());
    if (pid === process.pid) await unlink(this.pidFile).catch(() => undefined);
  }

  /** Removes acknowledgements older than `maxAgeMs`: PostgreSQL asks again only after a crash, then it is a cheap re-check. */
  async dropOldAcks(maxAgeMs: number, now = Date.now()): Promise<void> {
    for (const name of await readdir(path.join(this.dir, 'acked')).catch(() => [] as string[])) {
      const file = this.sub('acked', name);
      const st = await stat(file).catch(() => undefined);
      if (st !== undefined && now - st.mtimeMs > maxAgeMs) await unlink(file).catch(() => undefined);
    }
  }
}
