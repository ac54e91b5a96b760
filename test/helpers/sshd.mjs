// Starts a real OpenSSH server (Debian's /usr/sbin/sshd) on a loopback port for tests, as the current user,
// with its own host key, an authorized test key, and a fake HOME whose .ssh/ (config, known_hosts, key)
// points at it. Must never listen beyond 127.0.0.1, never kill anything but the processes it started,
// and must remove its temp dir. Plain JavaScript (types in sshd.d.mts) so that bench/sftp.mjs starts the same
// server the tests do.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './free-port.mjs';

export const SSHD = '/usr/sbin/sshd';

/** Resolves once the port answers with an SSH banner. */
async function waitForBanner(port, child, stderr, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`sshd exited during start-up: ${stderr()}`);
    const ok = await new Promise((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.setTimeout(1000);
      sock.once('data', (d) => {
        sock.destroy();
        resolve(d.toString('latin1').startsWith('SSH-'));
      });
      sock.once('error', () => resolve(false));
      sock.once('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not answer on port ${port}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pids of every descendant of `pid` (from /proc). */
export function descendants(pid) {
  const parent = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop();
    for (const [child, pp] of parent) {
      if (pp === p && !out.includes(child)) {
        out.push(child);
        todo.push(child);
      }
    }
  }
  return out;
}

export function keygen(file, comment = 'repo-test') {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
}

export function fingerprintOf(pubFile) {
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' }).split(' ')[1];
}

/** @param {import('./sshd.d.mts').SshdOptions} opts @returns {Promise<import('./sshd.d.mts').SshdServer>} */
export async function startSshd(opts = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-sshd-'));
  const home = path.join(dir, 'home');
  const data = path.join(dir, 'data');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(data);
  const user = os.userInfo().username;
  const port = await freePort();
  keygen(path.join(dir, 'host_ed25519'), 'test-host');
  keygen(path.join(home, '.ssh', 'id_ed25519'));
  fs.copyFileSync(path.join(home, '.ssh', 'id_ed25519.pub'), path.join(dir, 'authorized_keys'));
  const hostKeyLine = fs
    .readFileSync(path.join(dir, 'host_ed25519.pub'), 'utf8')
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ');
  fs.writeFileSync(path.join(home, '.ssh', 'known_hosts'), `[127.0.0.1]:${port} ${hostKeyLine}\n`);
  fs.writeFileSync(
    path.join(home, '.ssh', 'config'),
    `Host testhost\n  HostName 127.0.0.1\n  Port ${port}\n  User ${user}\n  IdentityFile ~/.ssh/id_ed25519\n`,
  );
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'MaxStartups 100',
      'MaxSessions 100',
      'LogLevel ERROR',
      `Subsystem sftp ${opts.subsystem ?? 'internal-sftp'}`,
      ...(opts.extraConfig ?? []),
    ].join('\n') + '\n',
  );
  // As root, sshd wants its privilege-separation directory; an unprivileged sshd runs without it.
  if (process.getuid?.() === 0 && !fs.existsSync('/run/sshd')) fs.mkdirSync('/run/sshd', { mode: 0o755 });

  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  let log = '';
  const start = async () => {
    log = '';
    const c = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr.on('data', (d) => {
      log += d.toString();
    });
    child = c;
    try {
      await waitForBanner(port, c, () => log);
    } catch (err) {
      c.kill('SIGKILL');
      throw err;
    }
  };
  const processes = () => (child?.pid === undefined ? [] : [...descendants(child.pid), child.pid]);
  const kill = async (known = []) => {
    const c = child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    for (const pid of [...known, ...processes()]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) =>
      c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
    );
  };
  await start();
  let stopped = false;
  return {
    port,
    dir,
    home,
    data,
    user,
    hostKeyLine,
    fingerprint: fingerprintOf(path.join(dir, 'host_ed25519.pub')),
    env: { HOME: home, SSH_AUTH_SOCK: undefined },
    url: (abs) => `sftp://${user}@127.0.0.1:${port}/${abs}`,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    processes,
    kill,
    restart: start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
