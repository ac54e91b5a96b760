// Feeds `repo serve`'s request log into each served repository's hash-chained audit log (spec §14): requests are
// gathered per repository and appended as one `serve` entry every interval, when many have gathered, and at
// shutdown. Entries are sealed with the master key, so the server needs the repository password (--audit).
// A repository that the password does not open is reported once and not audited; serving never waits on it
// beyond the append itself, and never fails a request because of it.

import type { Backend } from '../backend/backend.js';
import { errorMessage } from '../core/errors.js';
import { appendAudit } from '../ops/audit.js';
import { Repository } from '../repository/repository.js';

/** One request as the audit entry records it (never a password or a body). */
export interface RequestRecord {
  time: string;
  user: string;
  role: string;
  op: string;
  method: string;
  object: string;
  status: number;
  reason?: string;
}

export interface AuditFeedOptions {
  password: string;
  /** Longest time a request waits before it is appended (default 60 s). */
  intervalMs?: number;
  /** Requests per entry at most; more are appended in further entries (default 1000). */
  maxPerEntry?: number;
  warn: (line: string) => void;
}

interface Pending {
  backend: () => Promise<Backend>;
  records: RequestRecord[];
}

export class AuditFeed {
  private readonly pending = new Map<string, Pending>();
  private readonly repos = new Map<string, Promise<Repository | undefined>>();
  private readonly warned = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: AuditFeedOptions) {
    this.timer = setInterval(() => void this.flush(), opts.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** Notes a request against the repository at `location` (`backend` gives the server's backend for it). */
  note(location: string, backend: () => Promise<Backend>, rec: RequestRecord): void {
    let p = this.pending.get(location);
    if (p === undefined) this.pending.set(location, (p = { backend, records: [] }));
    p.records.push(rec);
    if (p.records.length >= (this.opts.maxPerEntry ?? 1000)) void this.flush();
  }

  /** Appends what has gathered; appends run one after another, so entries chain in order. */
  flush(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [location, p] of batch) await this.append(location, p);
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private repo(location: string, backend: () => Promise<Backend>): Promise<Repository | undefined> {
    let r = this.repos.get(location);
    if (r === undefined) {
      // The server owns the backend: this handle is never closed (closing it would close the backend).
      r = (async () => Repository.open(await backend(), this.opts.password, { skipIndex: true, workers: 0 }))().catch(
        (err: unknown) => {
          // Tried again at the next append (the repository may not be initialised yet); said once.
          this.repos.delete(location);
          if (!this.warned.has(location))
            this.opts.warn(`audit: not recording requests to ${location}: ${errorMessage(err)}`);
          this.warned.add(location);
          return undefined;
        },
      );
      this.repos.set(location, r);
    }
    return r;
  }

  private async append(location: string, p: Pending): Promise<void> {
    const repo = await this.repo(location, p.backend);
    if (repo === undefined) return;
    const refused = p.records.filter((r) => r.status === 401 || r.status === 403).length;
    const failed = p.records.filter((r) => r.status >= 400).length - refused;
    try {
      await appendAudit(repo, {
        operation: 'serve',
        result: refused > 0 ? 'failure' : 'success',
        ...(refused > 0 ? { error: `${refused} request${refused === 1 ? '' : 's'} refused` } : {}),
        details: { requests: p.records, refused, failed },
      });
    } catch (err) {
      this.opts.warn(`audit: could not append to the audit log of ${location}: ${errorMessage(err)}`);
    }
  }
}
