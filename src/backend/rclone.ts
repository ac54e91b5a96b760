// The `rclone:` scheme: starts `rclone serve restic --stdio REMOTE:PATH` (as restic does) and speaks restic's
// REST protocol to it over the child's stdin/stdout, where rclone serves HTTP/2; so every rclone remote can
// hold a repository. Must never pass a password variable to the child (core/child-env.ts),
// never leave the child running after close(), and never echo a connection string's parameters.

import { type ChildProcess, spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { childEnv } from '../core/child-env.js';
import { BackendError, RepoError } from '../core/errors.js';
import type { SchemeFactory } from './registry.js';
import { REST_IDLE_TIMEOUT_MS, connectionsOption } from './rest-location.js';

/** restic's defaults: `rclone serve restic --stdio --b2-hard-delete`. */
export const DEFAULT_RCLONE_ARGS = ['serve', 'restic', '--stdio', '--b2-hard-delete'];
export const DEFAULT_RCLONE_CONNECTIONS = 5;
/** How long close() waits for rclone to exit after its stdin closed, before SIGTERM. */
const EXIT_GRACE_MS = 5_000;

export interface RcloneLocation {
  /** What rclone gets as its remote, e.g. `gdrive:backups/laptop`, `:local:/srv/repo`, `/srv/repo`. */
  remote: string;
}

export function parseRcloneLocation(rest: string): RcloneLocation {
  if (rest === '')
    throw new RepoError('INVALID_ARGUMENT', 'no remote given after "rclone:" (expected rclone:REMOTE:PATH)');
  return { remote: rest };
}

/** The display form; the parameters of a connection string (`:s3,access_key_id=…:bucket`) are left out. */
export function formatRcloneLocation(loc: RcloneLocation): string {
  return `rclone:${loc.remote.replace(/^(:?[A-Za-z0-9_.-]*),[^:]*:/, '$1,…:')}`;
}

/** Splits `-o rclone.args` on white space (restic does the same; quoting is not supported). */
function splitArgs(s: string): string[] {
  return s.split(/\s+/).filter((a) => a !== '');
}

/** The environment of the child: ours without password variables (core/child-env.ts) nor a REST server's password. */
function rcloneEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = childEnv(env);
  delete out.REPO_REST_PASSWORD;
  return out;
}

/** A running rclone: its stdio as one duplex, the tail of its stderr, and how to stop it. */
class RcloneProcess {
  private stderrTail = '';
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly program: string,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
    });
  }

  static async start(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<RcloneProcess> {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(
            new BackendError(
              `rclone: cannot start ${JSON.stringify(program)}: program not found (install rclone, or name it with -o rclone.program=PATH)`,
              { path: program },
              { cause: err },
            ),
          );
        } else {
          reject(
            new BackendError(
              `rclone: cannot start ${JSON.stringify(program)}: ${err.code ?? err.message}`,
              { path: program },
              { cause: err },
            ),
          );
        }
      });
    });
    return new RcloneProcess(child, program);
  }

  get stream(): Duplex {
    const { stdout, stdin } = this.child;
    if (stdout === null || stdin === null) throw new BackendError('rclone: no pipe to the child process');
    stdin.on('error', () => undefined); // EPIPE after rclone died: reported through the failed request instead
    return Duplex.from({ readable: stdout, writable: stdin });
  }

  /** Why rclone is no use any more, for error messages: how it exited and the last line it wrote on stderr. */
  explain(): string | undefined {
    const last = this.stderrTail
      .split('\n')
      .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').trim())
      .filter((l) => l !== '' && !/^NOTICE: Config file .* not found/.test(l))
      .pop();
    if (this.exit === undefined) return last === undefined ? undefined : `rclone: ${last.slice(0, 300)}`;
    const how =
      this.exit.code !== null
        ? `exited with status ${this.exit.code}`
        : `was killed by ${this.exit.signal ?? 'a signal'}`;
    return `rclone ${how}${last === undefined ? '' : `: ${last.slice(0, 300)}`}`;
  }

  /** Settles when the child process has exited, for whatever reason. */
  whenExited(): Promise<void> {
    return this.exited;
  }

  get dead(): boolean {
    return this.exit !== undefined;
  }

  async stop(): Promise<void> {
    if (this.exit !== undefined) return;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGTERM'), EXIT_GRACE_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export const rcloneScheme: SchemeFactory<RcloneLocation> = {
  scheme: 'rclone',
  syntax: 'rclone:REMOTE:PATH',
  remote: true,
  parse: parseRcloneLocation,
  async connect(loc, options) {
    const program = options.extended?.['rclone.program'] ?? 'rclone';
    const rawArgs = options.extended?.['rclone.args'];
    const args = [...(rawArgs === undefined ? DEFAULT_RCLONE_ARGS : splitArgs(rawArgs)), loc.remote];
    const connections = connectionsOption(options, 'rclone.connections', DEFAULT_RCLONE_CONNECTIONS);
    // Loaded when an rclone: location is opened, not at start-up (node:http2 and tls cost every command).
    const { Http2StreamTransport } = await import('./http-transport.js');
    const { RestBackend } = await import('./rest.js');
    const proc = await RcloneProcess.start(program, args, rcloneEnv(options.env ?? process.env));
    const transport = new Http2StreamTransport(proc.stream, REST_IDLE_TIMEOUT_MS);
    void proc
      .whenExited()
      .then(() => transport.destroy(Object.assign(new Error('rclone exited'), { code: 'ECONNRESET' })));
    const backend = new RestBackend({
      location: formatRcloneLocation(loc),
      basePath: '/',
      transport,
      connections,
      onClose: () => proc.stop(),
      explain: () => proc.explain(),
      isDead: () => proc.dead,
    });
    return { backend, checkRepository: () => backend.checkRepository(), checkEmpty: () => backend.checkEmpty() };
  },
};
