// Starts a real S3-compatible server (s3rver from npm) on loopback for tests, and stops or kills it.
// Must never listen beyond 127.0.0.1, never kill anything but the child it started, and must remove its temp dir.

import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

/** s3rver's fixed account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly port: number;
  /** Data directory; objects live under DIR/BUCKET/KEY._S3rver_object. */
  readonly dir: string;
  /** The bucket configured at start. */
  readonly bucket: string;
  readonly credentials: typeof S3RVER_CREDENTIALS;
  /** Whether the server process is running. */
  readonly running: boolean;
  /** SIGKILLs the server (a crash); the data directory stays. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (after kill()). */
  restart(): Promise<void>;
  /** Stops the server and removes its data directory. Idempotent. */
  stop(): Promise<void>;
  /** Path of the file in which s3rver stores the object `key` of `bucket`. */
  objectFile(key: string, bucket?: string): string;
}

const require = createRequire(import.meta.url);
const S3RVER_BIN = require.resolve('s3rver/bin/s3rver.js');
const LISTEN_RE = /S3rver listening on [^:\s]+:(\d+)/;

/** Whether `url` answers any HTTP response within a second. */
export function answersHttp(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => {
      req.destroy();
      resolve(false);
    });
  });
}

/**
 * The environment a CLI subprocess needs to reach a test S3 server with `credentials`: those keys, and none of
 * the caller's AWS session, profile or region settings.
 */
export function s3CliEnv(credentials: {
  accessKeyId: string;
  secretAccessKey: string;
}): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_REGION: undefined,
    AWS_DEFAULT_REGION: undefined,
  };
}

/** Resolves when `url` answers any HTTP response; rejects after timeoutMs. */
async function waitUntilAnswering(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('s3rver exited during start-up');
    const ok = await answersHttp(url);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`s3rver did not answer at ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Spawns s3rver; resolves with the child and the port it listens on. */
async function spawnServer(dir: string, bucket: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  // s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its legacy provider.
  const child = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      S3RVER_BIN,
      '-d',
      dir,
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '--silent',
      '--configure-bucket',
      bucket,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const actualPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start within 15 s: ${err.slice(0, 2000)}`));
    }, 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = LISTEN_RE.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${code ?? sig}) during start-up: ${err.slice(0, 2000)}`));
    });
  });
  child.removeAllListeners('exit');
  // Keep draining the pipes so that the child never blocks on a full pipe.
  child.stdout?.resume();
  await waitUntilAnswering(`http://127.0.0.1:${actualPort}/`, 10_000, child);
  return { child, port: actualPort };
}

async function killChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/**
 * Starts s3rver in a fresh temp directory on a free loopback port (or `port`) with `bucket`
 * configured, and waits until it answers HTTP.
 */
export async function startS3Server(opts: { bucket?: string; port?: number } = {}): Promise<S3TestServer> {
  const bucket = opts.bucket ?? 'test-bucket';
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-test-'));
  let current: { child: ChildProcess; port: number };
  try {
    current = await spawnServer(dir, bucket, opts.port ?? 0);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = current.port;
  let child: ChildProcess | undefined = current.child;
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    bucket,
    credentials: S3RVER_CREDENTIALS,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async kill() {
      await killChild(child, 'SIGKILL');
      child = undefined;
    },
    async restart() {
      if (stopped) throw new Error('the server was stopped');
      await killChild(child, 'SIGKILL');
      child = (await spawnServer(dir, bucket, port)).child;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await killChild(child, 'SIGTERM');
      child = undefined;
      await fs.rm(dir, { recursive: true, force: true });
    },
    objectFile(key: string, b: string = bucket) {
      const parts = key.split('/');
      const last = parts.pop() ?? '';
      return path.join(dir, b, ...parts, `${last}._S3rver_object`);
    },
  };
}
