// Helpers for the long tests: a repository driven through the built CLI (also as killable processes),
// manifests of directory trees (relative path → type, mode and SHA-256) and repository sizes.
// Only tests import this.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, cliEnv, runCli, type CliResult } from '../helpers/cli.js';

export const PASSWORD = 'long tests correct horse';
const ID_RE = /^[0-9a-f]{64}$/;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A running CLI process that can be killed; `done` resolves when it has exited and its output is read. */
export interface RunningCli {
  child: ChildProcess;
  started: number;
  done: Promise<CliResult & { ms: number }>;
}

/** A repository at `dir` driven through the built `repo` CLI. */
export class CliRepo {
  constructor(
    readonly dir: string,
    readonly cwd: string,
  ) {}

  run(args: string[], opts: { input?: string | Buffer; global?: string[] } = {}): Promise<CliResult> {
    return runCli(['-r', this.dir, ...(opts.global ?? []), ...args], {
      cwd: this.cwd,
      password: PASSWORD,
      input: opts.input,
    });
  }

  /** Runs and insists on exit 0; the error shows the command's output. */
  async ok(args: string[], opts: { input?: string | Buffer; global?: string[] } = {}): Promise<CliResult> {
    const r = await this.run(args, opts);
    if (r.code !== 0)
      throw new Error(`repo ${args.join(' ')} exited ${r.code ?? r.signal}:\n${r.stderr}${r.out.slice(0, 4000)}`);
    return r;
  }

  async json<T = any>(args: string[], opts: { global?: string[] } = {}): Promise<T> {
    const r = await this.ok(['--json', ...args], opts);
    const lines = r.out.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]) as T;
  }

  /** Starts the CLI without waiting; stdin stays open when `keepStdin` (a `backup --stdin` then holds its lock). */
  start(args: string[], opts: { keepStdin?: boolean } = {}): RunningCli & { stdin: NodeJS.WritableStream } {
    const started = Date.now();
    const child = spawn(process.execPath, [CLI, '-r', this.dir, ...args], {
      env: cliEnv(PASSWORD),
      cwd: this.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.stdin!.on('error', () => undefined);
    if (!opts.keepStdin) child.stdin!.end();
    const done = new Promise<CliResult & { ms: number }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        const stdout = Buffer.concat(out);
        resolve({
          code,
          signal,
          stdout,
          out: stdout.toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          ms: Date.now() - started,
        });
      });
    });
    return { child, started, done, stdin: child.stdin! };
  }

  /** Names of the stored files of one kind (64-hex names only; temporary files are left out). */
  names(kind: 'data' | 'index' | 'snapshots' | 'locks' | 'keys'): string[] {
    const base = path.join(this.dir, kind);
    if (kind !== 'data')
      return fs
        .readdirSync(base)
        .filter((n) => ID_RE.test(n))
        .sort();
    const out: string[] = [];
    // data/ holds the 256 two-hex directories, and `.tmp-` files of packs a killed writer was writing.
    for (const sub of fs.readdirSync(base).filter((d) => /^[0-9a-f]{2}$/.test(d)))
      for (const n of fs.readdirSync(path.join(base, sub))) if (ID_RE.test(n)) out.push(n);
    return out.sort();
  }

  /** Waits until a lock file exists (returns its names). */
  async waitForLock(timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const locks = this.names('locks');
      if (locks.length > 0) return locks;
      if (Date.now() > deadline) throw new Error(`no lock appeared in ${this.dir}/locks within ${timeoutMs} ms`);
      await sleep(5);
    }
  }

  /** Restores a snapshot into `target` and returns the directory holding the backed-up path `name`. */
  /** Restores what was backed up from the absolute path `source`; returns where it is under `target`. */
  async restore(snapshot: string, target: string, source: string): Promise<string> {
    await this.ok(['restore', `${snapshot}:${path.dirname(source)}`, '--target', target]);
    return path.join(target, path.basename(source));
  }
}

/** Sizes of everything under a directory: apparent bytes, allocated bytes, and bytes in temporary files. */
export function repoSize(dir: string): { bytes: number; allocated: number; tmpFiles: number; tmpBytes: number } {
  const r = { bytes: 0, allocated: 0, tmpFiles: 0, tmpBytes: 0 };
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const st = fs.statSync(path.join(e.parentPath, e.name));
    r.bytes += st.size;
    r.allocated += st.blocks * 512;
    if (e.name.startsWith('.tmp-')) {
      r.tmpFiles++;
      r.tmpBytes += st.size;
    }
  }
  return r;
}

export type Manifest = Map<string, string>;

/**
 * What a tree holds: relative path → "dir MODE", "file MODE SIZE SHA256" or "symlink TARGET". Names are
 * taken as raw bytes (hex-escaped when not UTF-8) so any name can be compared.
 */
export function manifest(root: string): Manifest {
  const m: Manifest = new Map();
  const walk = (abs: Buffer, rel: string) => {
    for (const nameBuf of fs.readdirSync(abs, { encoding: 'buffer' })) {
      const utf8 = nameBuf.toString('utf8');
      const name = Buffer.from(utf8, 'utf8').equals(nameBuf) ? utf8 : `<hex:${nameBuf.toString('hex')}>`;
      const p = Buffer.concat([abs, Buffer.from('/'), nameBuf]);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        m.set(r, `dir ${mode}`);
        walk(p, r);
      } else if (st.isSymbolicLink()) {
        m.set(r, `symlink ${fs.readlinkSync(p, { encoding: 'buffer' }).toString('hex')}`);
      } else if (st.isFile()) {
        m.set(r, `file ${mode} ${st.size} ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
      } else {
        m.set(r, 'other');
      }
    }
  };
  walk(Buffer.from(root), '');
  return m;
}

/** Differences between an expected and an actual manifest (empty when they are the same). */
export function diffManifests(expected: Manifest, actual: Manifest): string[] {
  const d: string[] = [];
  for (const [k, v] of expected) {
    const a = actual.get(k);
    if (a === undefined) d.push(`missing ${k} (${v})`);
    else if (a !== v) d.push(`${k}: expected ${v}, got ${a}`);
  }
  for (const k of actual.keys()) if (!expected.has(k)) d.push(`unexpected ${k}`);
  return d;
}

/** Runs async jobs with at most `n` at once. */
export async function parallel<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}
