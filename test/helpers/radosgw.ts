// Starts a real single-node Ceph cluster for tests (Debian's ceph 16.2: one monitor, one OSD on memstore) with
// radosgw on loopback and one S3 user, and stops it again. Must never listen beyond 127.0.0.1, never kill anything
// but the daemons it started (by pid), and must remove its temporary directory. Needs no authentication between the
// daemons (auth none): the cluster lives for one test file and answers only on loopback.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { answersHttp } from './s3server.js';

const run = promisify(execFile);

export const RADOSGW_CREDENTIALS = {
  accessKeyId: 'REPOTESTACCESS',
  secretAccessKey: 'REPOTESTSECRETKEY0123456789',
} as const;

export interface RadosgwServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly endpoint: string;
  readonly credentials: typeof RADOSGW_CREDENTIALS;
  /** Milliseconds from the first command to radosgw answering with a user created. */
  readonly startupMs: number;
  /** Stops every daemon it started and removes the cluster's directory. Idempotent. */
  stop(): Promise<void>;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'monmaptool', 'ceph-authtool'];

/** Whether Debian's Ceph packages (ceph-mon, ceph-osd, radosgw, ceph-common) are installed. */
export async function radosgwAvailable(): Promise<boolean> {
  for (const b of BINARIES) {
    try {
      await run('sh', ['-c', `command -v ${b}`]);
    } catch {
      return false;
    }
  }
  return true;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Repeats `fn` until it resolves, for up to timeoutMs; then rethrows its last error. */
async function retry<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not succeed within ${timeoutMs} ms`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function config(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
public network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd objectstore = memstore
memstore device bytes = 1073741824
run dir = ${dir}/run
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
client mount timeout = 30
[mon.a]
mon data = ${dir}/mon
[osd.0]
osd data = ${dir}/osd0
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
rgw enable usage log = false
`;
}

/** Starts monitor, OSD and radosgw (about 15 s on an idle machine) and creates the test user. */
export async function startRadosgw(opts: { timeoutMs?: number } = {}): Promise<RadosgwServer> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const started = Date.now();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'repo-radosgw-'));
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // radosgw first, the monitor last: the others report to it while they shut down.
    for (const child of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    const [monPort, rgwPort] = [await freePort(), await freePort()];
    const fsid = crypto.randomUUID();
    for (const d of ['mon', 'osd0', 'run', 'log', 'rgw']) await fs.mkdir(path.join(dir, d));
    const conf = path.join(dir, 'ceph.conf');
    await fs.writeFile(conf, config(dir, fsid, monPort, rgwPort));
    const c = ['-c', conf];
    const daemon = (bin: string, args: string[]): ChildProcess => {
      // -f: foreground, so the daemon is our child and stop() can end it by its pid.
      const child = spawn(bin, [...c, '-f', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
      child.once('exit', (code) => {
        if (!stopped && code !== 0) process.stderr.write(`${bin} exited with ${code} (restarted if needed): ${err}\n`);
      });
      children.push(child);
      return child;
    };
    const ceph = (args: string[]) => run('ceph', [...c, '--connect-timeout', '10', ...args], { timeout: 30_000 });

    const monmap = path.join(dir, 'monmap');
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, monmap]);
    const keyring = path.join(dir, 'keyring');
    await run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);
    daemon('ceph-mon', ['-i', 'a']);
    await retry('ceph osd create', timeoutMs, () => ceph(['osd', 'create']));
    await run('ceph-osd', [...c, '-i', '0', '--mkfs']);
    // A daemon that asks the monitor too early can be refused ("wrong fsid": its client has no monitor map yet)
    // and exits; it is started again until the monitor knows it.
    let osd = daemon('ceph-osd', ['-i', '0']);
    await retry('osd.0 up', timeoutMs, async () => {
      if (osd.exitCode !== null || osd.signalCode !== null) osd = daemon('ceph-osd', ['-i', '0']);
      const { stdout } = await ceph(['osd', 'stat', '--format', 'json']);
      if ((JSON.parse(stdout) as { num_up_osds?: number }).num_up_osds !== 1) throw new Error('osd.0 is not up');
    });
    daemon('radosgw', ['-n', 'client.rgw']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await retry('radosgw answering', timeoutMs, async () => {
      if (!(await answersHttp(endpoint))) throw new Error('no answer');
    });
    await retry('radosgw-admin user create', timeoutMs, () =>
      run(
        'radosgw-admin',
        [
          ...c,
          'user',
          'create',
          '--uid=repotest',
          '--display-name=repo test',
          `--access-key=${RADOSGW_CREDENTIALS.accessKeyId}`,
          `--secret-key=${RADOSGW_CREDENTIALS.secretAccessKey}`,
        ],
        { timeout: 30_000 },
      ),
    );
    return { endpoint, credentials: RADOSGW_CREDENTIALS, startupMs: Date.now() - started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
