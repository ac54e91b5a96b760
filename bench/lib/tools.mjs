// The backup tools under test: how to find/install them and the command line of every step.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptInstall, sh, which } from './proc.mjs';

export const ALL_TOOLS = ['repo', 'restic', 'borg'];
export const PASSWORD = 'repo-bench correct horse battery staple';

/**
 * Each adapter returns { cmd, args, cwd? } for a step (versionCmd: the tool's version command;
 * `version` is set to its output by setupTools). `scratch` is a per-dataset, per-lineage folder
 * for the tools' own caches (restic's and borg's), removed with the repositories.
 */
function repoTool(projectRoot) {
  // The command as installed (package.json "bin"): the bundle, with the environment and node options its
  // first line names (`#!/usr/bin/env -S VAR=value … node --option …`).
  const main = join(projectRoot, 'dist/bundle/repo.js');
  const words = readFileSync(main, 'utf8')
    .split('\n', 1)[0]
    .replace(/^#!\S*env\s+-S\s+/, '')
    .split(/\s+/)
    .filter(Boolean);
  const at = words.indexOf('node');
  const launchEnv = Object.fromEntries(words.slice(0, Math.max(at, 0)).map((w) => w.split('=', 2)));
  const nodeOptions = at < 0 ? [] : words.slice(at + 1);
  const node = (args, o) => ({
    cmd: process.execPath,
    args: [...nodeOptions, ...(o?.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : []), main, ...args],
  });
  return {
    name: 'repo',
    main,
    // repo caches only remote repositories' metadata; pointed into the scratch dir all the same
    env: (scratch) => ({ ...launchEnv, REPO_PASSWORD: PASSWORD, REPO_CACHE_DIR: join(scratch, 'repo-cache') }),
    versionCmd: () => node(['version']),
    init: (r, o) => node(['-r', r, '-q', 'init'], o),
    backup: (r, src, _name, o) => node(['-r', r, '-q', 'backup', src], o),
    restore: (r, target, _name, o) => node(['-r', r, '-q', 'restore', 'latest', '--target', target], o),
    // repo restores a backed-up directory under its full path, as restic does
    restoredRoot: (target, src) => join(target, src),
    check: (r, o) => node(['-r', r, '-q', 'check', '--read-data'], o),
    snapshots: (r, o) => node(['-r', r, '-q', 'snapshots'], o),
  };
}

function resticTool() {
  return {
    name: 'restic',
    env: (scratch) => ({ RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: join(scratch, 'restic-cache') }),
    versionCmd: () => ({ cmd: 'restic', args: ['version'] }),
    init: (r) => ({ cmd: 'restic', args: ['-r', r, '-q', 'init'] }),
    backup: (r, src) => ({ cmd: 'restic', args: ['-r', r, '-q', 'backup', src] }),
    restore: (r, target) => ({ cmd: 'restic', args: ['-r', r, '-q', 'restore', 'latest', '--target', target] }),
    restoredRoot: (target, src) => join(target, src),
    check: (r) => ({ cmd: 'restic', args: ['-r', r, '-q', 'check', '--read-data'] }),
    snapshots: (r) => ({ cmd: 'restic', args: ['-r', r, '-q', 'snapshots'] }),
  };
}

function borgTool() {
  return {
    name: 'borg',
    env: (scratch) => ({
      BORG_PASSPHRASE: PASSWORD,
      BORG_BASE_DIR: join(scratch, 'borg-home'),
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_DISPLAY_PASSPHRASE: 'no',
    }),
    versionCmd: () => ({ cmd: 'borg', args: ['--version'] }),
    init: (r) => ({ cmd: 'borg', args: ['init', '--encryption=repokey-blake2', r] }),
    backup: (r, src, name) => ({ cmd: 'borg', args: ['create', '--compression', 'lz4', `${r}::${name}`, src] }),
    // borg extracts into the current directory
    restore: (r, target, name) => ({ cmd: 'borg', args: ['extract', `${r}::${name}`], cwd: target }),
    restoredRoot: (target, src) => join(target, src.replace(/^\/+/, '')),
    check: (r) => ({ cmd: 'borg', args: ['check', '--verify-data', r] }),
    snapshots: (r) => ({ cmd: 'borg', args: ['list', r] }),
  };
}

/** Exit codes that mean "done, with warnings" (the snapshot exists). */
export function isWarningExit(tool, code) {
  return (tool === 'borg' && code === 1) || ((tool === 'repo' || tool === 'restic') && code === 3);
}

/**
 * Finds (installing with apt when possible) the requested tools. Returns a map name -> adapter with
 * { available, version, compression, skipReason }.
 */
export async function setupTools(names, { projectRoot, log }) {
  const tools = {};
  const missing = [];
  if (names.includes('restic') && !which('restic')) missing.push(['restic', 'restic']);
  if (names.includes('borg') && !which('borg')) missing.push(['borg', 'borgbackup']);
  if (missing.length) {
    log(`installing missing tools: ${missing.map((m) => m[0]).join(', ')}`);
    // one install for all; if it fails, try each on its own so one missing package doesn't hide the other
    if (
      !(await aptInstall(
        missing.map((m) => m[1]),
        log,
      )) &&
      missing.length > 1
    ) {
      for (const [, pkg] of missing) await aptInstall([pkg], log);
    }
  }
  for (const name of names) {
    let t;
    if (name === 'repo') {
      t = repoTool(projectRoot);
      if (!existsSync(t.main)) {
        t.available = false;
        t.skipReason = `${t.main} not found (run npm run build)`;
      } else {
        const v = sh(process.execPath, [t.main, 'version']);
        t.available = v.code === 0;
        t.version = (v.stdout || v.stderr).trim().split('\n')[0];
        if (!t.available) t.skipReason = `repo version failed: ${v.stderr.trim()}`;
        const help = sh(process.execPath, [t.main, 'check', '--help']);
        t.hasCheck = help.code === 0 && /read-data/.test(help.stdout + help.stderr);
        const initHelp = sh(process.execPath, [t.main, 'init', '--help']).stdout;
        const comp = /--compression[\s\S]*?\(default: "([^"]+)"\)/.exec(initHelp)?.[1] ?? 'default';
        t.compression = `${comp} (repo default: zstd, skipped when it does not shrink)`;
      }
    } else if (name === 'restic') {
      t = resticTool();
      if (!which('restic')) {
        t.available = false;
        t.skipReason = 'restic not found and could not be installed';
      } else {
        t.available = true;
        t.version = sh('restic', ['version']).stdout.trim();
        const m = /restic (\d+)\.(\d+)\.(\d+)/.exec(t.version);
        const hasCompression = m && (Number(m[1]) > 0 || Number(m[2]) >= 14);
        t.compression = hasCompression ? 'auto (restic default: zstd, repository format v2)' : 'none (restic < 0.14)';
        t.hasCheck = true;
      }
    } else if (name === 'borg') {
      t = borgTool();
      if (!which('borg')) {
        t.available = false;
        t.skipReason = 'borg not found and could not be installed';
      } else {
        t.available = true;
        t.version = sh('borg', ['--version']).stdout.trim();
        t.compression = 'lz4 (borg default; --encryption=repokey-blake2)';
        t.hasCheck = true;
      }
    } else {
      throw new Error(`unknown tool ${name}`);
    }
    tools[name] = t;
  }
  return tools;
}
