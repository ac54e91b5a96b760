#!/usr/bin/env node
// SFTP throughput: repo vs restic backing up and restoring the same data through the same OpenSSH server
// on loopback (a private sshd started here, with its own host key, test key and known_hosts).
// Usage: npm run build && node bench/sftp.mjs [--mib 200] [--runs 2]
// Prints wall and CPU seconds (user+sys of the client and its children, e.g. restic's ssh) and the CPU
// the server's session processes used. Needs /usr/sbin/sshd, ssh, ssh-keygen and restic on PATH.

import { randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSshd } from '../test/helpers/sshd.mjs';
import { measure, setupTimeMethod, which } from './lib/proc.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CLI = path.join(root, 'dist/bundle/repo.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const MIB = arg('mib', 200);
const RUNS = arg('runs', 2);

/** user+sys seconds of a process's reaped children (the sshd listener reaps every session). */
function childCpu(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // CLK_TCK is 100 on Linux
}

/**
 * The tests' sshd (test/helpers/sshd.mjs), with an ssh client config for `benchhost` that restic's ssh (which
 * takes ~ from the password database, not HOME) can use: every path absolute, strict host key checking, no prompts.
 */
async function startBenchSshd() {
  const srv = await startSshd();
  const ssh = path.join(srv.home, '.ssh');
  const sshConfig = path.join(ssh, 'config');
  fs.writeFileSync(
    sshConfig,
    `Host benchhost\n  HostName 127.0.0.1\n  Port ${srv.port}\n  User ${srv.user}\n  IdentityFile ${path.join(ssh, 'id_ed25519')}\n  UserKnownHostsFile ${path.join(ssh, 'known_hosts')}\n  StrictHostKeyChecking yes\n  BatchMode yes\n`,
  );
  return { srv, sshConfig };
}

function makeData(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const buf = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < Math.ceil(MIB / 4); i++) {
    randomFillSync(buf);
    fs.writeFileSync(path.join(dir, `f${String(i).padStart(3, '0')}.bin`), buf);
  }
}

async function main() {
  for (const tool of ['/usr/sbin/sshd', 'ssh', 'ssh-keygen', 'restic']) {
    if (!which(tool)) throw new Error(`${tool} not found`);
  }
  await setupTimeMethod();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-sftp-bench-'));
  const { srv, sshConfig } = await startBenchSshd();
  const data = path.join(dir, 'src');
  makeData(data);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const results = [];
  const env = {
    ...process.env,
    HOME: srv.home,
    SSH_AUTH_SOCK: '',
    REPO_PASSWORD: 'bench',
    RESTIC_PASSWORD: 'bench',
    REPO_CACHE_DIR: path.join(dir, 'repo-cache'),
    RESTIC_CACHE_DIR: path.join(dir, 'restic-cache'),
  };
  const sshCommand = `ssh -F ${sshConfig} benchhost -s sftp`;
  const tools = {
    repo: (repo, args) => [process.execPath, [CLI, '-r', repo, ...args]],
    restic: (repo, args) => ['restic', ['-r', repo, '-o', `sftp.command=${sshCommand}`, ...args]],
    // Baseline: the same work into a local directory, to tell SFTP's share of the CPU from the rest.
    'repo-local': (repo, args) => [process.execPath, [CLI, '-r', repo.replace(/^sftp:benchhost:/, ''), ...args]],
  };
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const [name, cmd] of Object.entries(tools)) {
        const where = path.join(dir, 'repos', `${name}-${run}`);
        const repo = `sftp:benchhost:${where}`;
        const step = async (label, args) => {
          const before = childCpu(srv.pid);
          const [c, a] = cmd(repo, args);
          const r = await measure(c, a, { env, cwd: dir, logBase: path.join(logs, `${name}-${run}-${label}`) });
          if (r.code !== 0) throw new Error(`${name} ${label} failed: ${r.errTail}`);
          await new Promise((res) => setTimeout(res, 300)); // let the listener reap the session
          const server = childCpu(srv.pid) - before;
          results.push({ tool: name, run, step: label, wall: r.wall, cpu: r.cpu, rssMiB: r.rssMiB, serverCpu: server });
        };
        await step('init', ['init']);
        await step('backup', ['backup', data]);
        const target = path.join(dir, 'restore', `${name}-${run}`);
        await step('restore', ['restore', 'latest', '--target', target]);
        fs.rmSync(target, { recursive: true, force: true });
        fs.rmSync(where, { recursive: true, force: true });
      }
    }
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (x, d = 2) => (x === null || x === undefined ? '-' : x.toFixed(d));
  console.log(
    `SFTP over loopback, ${MIB} MiB of incompressible data, ${RUNS} run(s) each; ${os.cpus().length} cores (shared machine: compare CPU more than wall)`,
  );
  console.log('tool       step     run  wall s  MiB/s  client CPU s  server CPU s  peak RSS MiB');
  for (const r of results) {
    if (r.step === 'init') continue;
    console.log(
      `${r.tool.padEnd(10)} ${r.step.padEnd(8)} ${String(r.run).padStart(3)}  ${fmt(r.wall).padStart(6)}  ${fmt(MIB / r.wall, 1).padStart(5)}  ${fmt(r.cpu).padStart(12)}  ${fmt(r.serverCpu).padStart(12)}  ${fmt(r.rssMiB, 0).padStart(12)}`,
    );
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
