// Types of sshd.mjs.

export const SSHD: string;

export interface SshdOptions {
  /** Extra sshd_config lines (e.g. `Subsystem sftp internal-sftp -R` for a read-only server). */
  extraConfig?: string[];
  /** Replaces the default `Subsystem sftp internal-sftp`. */
  subsystem?: string;
}

export interface SshdServer {
  readonly port: number;
  /** The temp dir holding everything (server files, home/, data/). */
  readonly dir: string;
  /** Fake HOME: .ssh/config (Host `testhost` → this server), .ssh/known_hosts, .ssh/id_ed25519. */
  readonly home: string;
  /** A directory for repositories, on the server's (= this machine's) file system. */
  readonly data: string;
  readonly user: string;
  /** The host key's public line (`ssh-ed25519 AAAA…`). */
  readonly hostKeyLine: string;
  /** SHA256 fingerprint of the host key, as ssh-keygen -l prints it. */
  readonly fingerprint: string;
  /** Environment for the CLI: HOME = home, no agent. */
  readonly env: Record<string, string | undefined>;
  /** `sftp://USER@127.0.0.1:PORT//abs` for an absolute path on the server. */
  url(absPath: string): string;
  readonly running: boolean;
  /** The listener's pid (session processes are its children), while it runs. */
  readonly pid: number | undefined;
  /** The listener's pid and those of every session process it forked, now. */
  processes(): number[];
  /**
   * SIGKILLs the server and every session process it forked (a crash); the files stay. `known` (from
   * processes()) are killed first, before the slower look-up of the current ones.
   */
  kill(known?: number[]): Promise<void>;
  /** Starts it again on the same port (after kill()). */
  restart(): Promise<void>;
  /** Stops it and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export function descendants(pid: number): number[];
export function keygen(file: string, comment?: string): void;
export function fingerprintOf(pubFile: string): string;
export function startSshd(opts?: SshdOptions): Promise<SshdServer>;
