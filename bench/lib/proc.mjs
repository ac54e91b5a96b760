// Running commands: plain helpers, apt installs, and measured runs (wall, user+sys CPU, peak RSS).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync, accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of an executable on PATH, or null. */
export function which(cmd) {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Runs a command to completion, capturing output (for small helper commands, not measured). */
export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...opts,
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? (r.error ? String(r.error) : ''),
    error: r.error,
  };
}

/** Like sh() but throws with the command's stderr when it fails. */
export function shOk(cmd, args, opts = {}) {
  const r = sh(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  }
  return r.stdout;
}

/** Async spawn with inherited or file stdio; resolves to the exit code. */
export function spawnWait(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...opts });
    child.on('error', () => resolve(-1));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let aptUpdated = null; // null = not tried, true/false = result
/**
 * Installs Debian packages when we are root and apt-get exists. Runs `apt-get update` at most once
 * per process. Never throws: returns true on success, false (with a printed reason) otherwise.
 */
export async function aptInstall(packages, log = console.log) {
  if (!isRoot) {
    log(`  cannot install ${packages.join(' ')}: not root`);
    return false;
  }
  if (!which('apt-get')) {
    log(`  cannot install ${packages.join(' ')}: apt-get not available`);
    return false;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const out = { stdio: ['ignore', 'ignore', 'pipe'], env };
  if (aptUpdated === null) {
    log('  apt-get update ...');
    const r = await spawnCapture('apt-get', ['update'], out);
    aptUpdated = r.code === 0;
    if (!aptUpdated) log(`  apt-get update failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
  }
  log(`  apt-get install -y ${packages.join(' ')} ...`);
  const r = await spawnCapture('apt-get', ['install', '-y', '--no-install-recommends', ...packages], out);
  if (r.code !== 0) {
    log(`  apt-get install ${packages.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
    return false;
  }
  return true;
}

function spawnCapture(cmd, args, opts) {
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn(cmd, args, opts);
    child.stderr?.on('data', (d) => {
      stderr = (stderr + d).slice(-20000);
    });
    child.on('error', (e) => resolve({ code: -1, stderr: String(e) }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

// ---- measured runs ----------------------------------------------------------------------------

const PY_WRAPPER = `
import os, resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[2:])
w = time.monotonic() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], 'w').write('%.3f %.3f %.3f %d\\n' % (w, u.ru_utime, u.ru_stime, u.ru_maxrss))
sys.exit(rc if rc >= 0 else 128 - rc)
`;

let timeMethod = null;
/**
 * Chooses how commands are measured: GNU time (installing Debian's `time` if needed), else a python3
 * wrapper reading getrusage(RUSAGE_CHILDREN), else wall time only.
 */
export async function setupTimeMethod(log = console.log) {
  if (timeMethod) return timeMethod;
  const gnuTime = () => {
    if (!existsSync('/usr/bin/time')) return false;
    const r = sh('/usr/bin/time', ['-f', '%e %U %S %M', 'true']);
    return r.code === 0 && /^[\d.]+ [\d.]+ [\d.]+ \d+\s*$/m.test(r.stderr);
  };
  if (!gnuTime()) {
    log('/usr/bin/time (GNU time) not found; trying to install Debian package "time"');
    await aptInstall(['time'], log);
  }
  if (gnuTime()) timeMethod = 'gnu-time';
  else if (which('python3')) timeMethod = 'python-rusage';
  else timeMethod = 'wall-only';
  return timeMethod;
}

/**
 * Runs one measured command. stdout/stderr go to `${logBase}.out` / `${logBase}.err`.
 * Returns { code, wall, user, sys, cpu, rssMiB, errTail }.
 */
export async function measure(cmd, args, { env, cwd, logBase }) {
  const method = timeMethod ?? 'wall-only';
  const tfile = `${logBase}.time`;
  rmSync(tfile, { force: true });
  let argv;
  if (method === 'gnu-time') argv = ['/usr/bin/time', ['-f', '%e %U %S %M', '-o', tfile, cmd, ...args]];
  else if (method === 'python-rusage') argv = ['python3', ['-c', PY_WRAPPER, tfile, cmd, ...args]];
  else argv = [cmd, args];
  const outFd = openSync(`${logBase}.out`, 'w');
  const errFd = openSync(`${logBase}.err`, 'w');
  const t0 = process.hrtime.bigint();
  const code = await spawnWait(argv[0], argv[1], { env, cwd, stdio: ['ignore', outFd, errFd] });
  const hrWall = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(outFd);
  closeSync(errFd);
  const res = { code, wall: hrWall, user: null, sys: null, cpu: null, rssMiB: null, errTail: '' };
  if (method !== 'wall-only' && existsSync(tfile)) {
    // GNU time writes "Command exited with non-zero status N" before the format line.
    const lines = readFileSync(tfile, 'utf8').trim().split('\n');
    const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(lines[lines.length - 1].trim());
    if (m) {
      res.user = Number(m[2]);
      res.sys = Number(m[3]);
      res.cpu = res.user + res.sys;
      res.rssMiB = Number(m[4]) / 1024; // both report KiB
    }
  }
  if (code !== 0) {
    const err = readFileSync(`${logBase}.err`, 'utf8').trim();
    res.errTail = (err || readFileSync(`${logBase}.out`, 'utf8').trim()).split('\n').slice(-8).join('\n');
  }
  return res;
}
