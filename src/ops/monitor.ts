// Monitoring of jobs: healthchecks-style pings (URL/start, URL on success, URL/fail, with the tail of the
// job's log as body) and a JSON webhook, both through the global fetch with a timeout and a few retries.
// A ping that cannot be delivered is a warning in the job's log; it never changes the job's outcome.

import { errorMessage } from '../core/errors.js';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { MonitoringConfig } from './config.js';

export type MonitorEvent = 'start' | 'success' | 'failure';

export interface MonitorReport {
  /** Job outcome, for success and failure. */
  status?: string;
  exitCode?: number;
  seconds?: number;
  summary?: string;
  snapshots?: string[];
  /** Last lines of the job's log. */
  logTail?: string[];
}

const MAX_BODY = 100_000;
const ATTEMPTS = 3;

/** URL with `suffix` appended to its path ("start", "fail" or ""), keeping its query; plus the run id. */
export function healthcheckUrl(base: string, suffix: '' | 'start' | 'fail', rid?: string): string {
  const u = new URL(base);
  if (suffix !== '') u.pathname = u.pathname.replace(/\/+$/, '') + '/' + suffix;
  if (rid !== undefined) u.searchParams.set('rid', rid);
  return u.toString();
}

export class Monitor {
  /** Run id sent with every ping of this job, so the service pairs start and finish. */
  readonly rid = randomUUID();

  constructor(
    private readonly cfg: MonitoringConfig,
    private readonly profile: string,
    private readonly warn: (msg: string) => void,
    private readonly fetchFn: typeof fetch = globalThis.fetch,
  ) {}

  get enabled(): boolean {
    return this.cfg.healthcheck !== undefined || this.cfg.webhook !== undefined;
  }

  async notify(event: MonitorEvent, report: MonitorReport = {}): Promise<void> {
    const tasks: Promise<void>[] = [];
    if (this.cfg.healthcheck !== undefined) {
      const suffix = event === 'start' ? 'start' : event === 'failure' ? 'fail' : '';
      const body = event === 'start' ? '' : textBody(report);
      tasks.push(
        this.send(
          healthcheckUrl(this.cfg.healthcheck, suffix, this.rid),
          body,
          'text/plain; charset=utf-8',
          'healthcheck',
        ),
      );
    }
    if (this.cfg.webhook !== undefined) {
      const payload = {
        event,
        profile: this.profile,
        host: os.hostname(),
        time: new Date().toISOString(),
        run_id: this.rid,
        status: report.status,
        exit_code: report.exitCode,
        duration_seconds: report.seconds,
        summary: report.summary,
        snapshots: report.snapshots,
        log_tail: report.logTail,
      };
      tasks.push(this.send(this.cfg.webhook, JSON.stringify(payload), 'application/json', 'webhook'));
    }
    await Promise.all(tasks);
  }

  private async send(url: string, body: string, contentType: string, what: string): Promise<void> {
    let last = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const res = await this.fetchFn(url, {
          method: 'POST',
          headers: { 'content-type': contentType, 'user-agent': 'repo-backup' },
          body,
          signal: AbortSignal.timeout(this.cfg.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return;
        last = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429) break; // a client error will not go away by retrying
      } catch (err) {
        last = errorMessage(err);
      }
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 500 * attempt));
    }
    this.warn(`${what} ping to ${redact(url)} failed: ${last}`);
  }
}

function textBody(r: MonitorReport): string {
  const head = [r.summary, r.status !== undefined ? `status: ${r.status} (exit ${r.exitCode ?? '?'})` : undefined]
    .filter((x) => x !== undefined)
    .join('\n');
  let body = head + (r.logTail && r.logTail.length > 0 ? `\n\n${r.logTail.join('\n')}` : '');
  if (Buffer.byteLength(body) > MAX_BODY) body = body.slice(body.length - MAX_BODY);
  return body;
}

/** The URL without credentials and without its path beyond the host (a ping URL's path is its secret). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '…';
  }
}
