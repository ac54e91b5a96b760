// What every step of a profile job shares: the caller's options, the job's log (kept to its last lines, echoed
// as it grows) and the audit callback. Must never hold more than MAX_LOG_LINES lines of a long job's log.

import type { Repository } from '../repository/repository.js';
import type { AuditRecord } from './audit.js';
import type { RepoAccess } from './repos.js';

export interface RunOptions extends RepoAccess {
  signal?: AbortSignal;
  now?: () => Date;
  /** Local state directory for the audit log's memory (null: none). */
  stateDir?: string | null;
  /** Each log line as it happens (e.g. to stdout). */
  onLog?: (line: string) => void;
  /** Run the check even when it is not due yet (or when the profile has no check policy: a structure check). */
  forceCheck?: boolean;
  /** Skip the check even when it is due. */
  skipCheck?: boolean;
  fetch?: typeof fetch;
}

const MAX_LOG_LINES = 5000;

export class JobLog {
  readonly lines: string[] = [];
  constructor(
    private readonly profile: string,
    private readonly echo?: (line: string) => void,
  ) {}

  add(msg: string): void {
    const line = `${new Date().toISOString()} [${this.profile}] ${msg}`;
    this.lines.push(line);
    if (this.lines.length > MAX_LOG_LINES) this.lines.shift();
    this.echo?.(line);
  }

  tail(n: number): string[] {
    return n <= 0 ? [] : this.lines.slice(-n);
  }
}

/** Appends an audit entry for the job's profile; a failure to append is a warning in the log, not an error. */
export type Audit = (repo: Repository, rec: AuditRecord) => Promise<string | undefined>;
