// The audit log (spec §14): one sealed, content-addressed entry per operation that changes a repository or
// reads data out of it, each naming the entries it follows, so that removing or altering one is detectable.
// Entries are never rewritten or removed by any command; a reader merges concurrent appends (forks).

import os from 'node:os';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isNotFound } from '../backend/backend.js';
import { errorMessage } from '../core/errors.js';
import { AAD_AUDIT } from '../repository/aad.js';
import type { Repository } from '../repository/repository.js';
import { PROGRAM_VERSION } from '../archiver/index.js';
import { defaultStateDir, readJsonFile, writeJsonFile } from './state.js';
import {
  AUDIT_VERSION,
  loadAuditEntry,
  type AuditEntry,
  type AuditRecord,
  type AuditResult,
  type StoredAuditEntry,
} from './audit-entry.js';

export {
  AUDIT_VERSION,
  loadAuditEntry,
  parseAuditEntry,
  type AuditEntry,
  type AuditRecord,
  type AuditResult,
  type StoredAuditEntry,
} from './audit-entry.js';

export type AuditRepo = Pick<Repository, 'saveUnpacked' | 'loadUnpacked' | 'listNames'> & {
  readonly id: string;
  readonly backend?: { readonly location: string };
};

export interface AuditOptions {
  /** Local state directory remembering entries already seen (spec §14.4); null: none. Default: defaultStateDir(). */
  stateDir?: string | null;
  now?: () => Date;
}

function whoAmI(): { username: string; uid?: number } {
  try {
    const u = os.userInfo();
    return { username: u.username, uid: u.uid };
  } catch {
    return { username: process.env.USER ?? '', uid: process.getuid?.() };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Local memory of seen entries (speeds up appends; detects removal of the newest entries)

interface SeenFile {
  repository: string;
  entries: Record<string, { prev: string[]; seq: number }>;
}

// Keyed by repository id AND location: a copy of a repository (same id, other place) has a log of its own
// from the moment it is copied, while a repository rolled back in place is still caught.
function seenPath(stateDir: string, repo: AuditRepo): string {
  const where = repo.backend ? '-' + createHash('sha256').update(repo.backend.location).digest('hex').slice(0, 16) : '';
  return path.join(stateDir, 'audit', `${repo.id}${where}.json`);
}

async function loadSeen(stateDir: string | null, repo: AuditRepo): Promise<SeenFile> {
  const empty: SeenFile = { repository: repo.id, entries: {} };
  if (stateDir === null) return empty;
  const f = await readJsonFile<SeenFile>(seenPath(stateDir, repo));
  if (!f || f.repository !== repo.id || typeof f.entries !== 'object' || f.entries === null) return empty;
  return f;
}

async function saveSeen(stateDir: string | null, seen: SeenFile, repo: AuditRepo): Promise<void> {
  if (stateDir === null) return;
  await writeJsonFile(seenPath(stateDir, repo), seen).catch(() => undefined); // a cache: failing to write it is harmless
}

function stateDirOf(opts: AuditOptions): string | null {
  return opts.stateDir === undefined ? defaultStateDir() : opts.stateDir;
}

// ---------------------------------------------------------------------------------------------------------
// Appending

/**
 * Appends an entry following every current head of the log (normally one; several after concurrent appends,
 * which this entry merges). Returns the new entry's id. Unreadable entries are followed as heads too, so a
 * damaged entry stays referenced and check keeps reporting it.
 */
export async function appendAudit(repo: AuditRepo, rec: AuditRecord, opts: AuditOptions = {}): Promise<string> {
  const stateDir = stateDirOf(opts);
  const seen = await loadSeen(stateDir, repo);
  const names = await repo.listNames('audit');
  const graph = new Map<string, { prev: string[]; seq: number } | undefined>();
  for (const name of names) {
    const known = seen.entries[name];
    if (known) {
      graph.set(name, known);
      continue;
    }
    try {
      const e = await loadAuditEntry(repo, name);
      graph.set(name, { prev: e.prev, seq: e.seq });
      seen.entries[name] = { prev: e.prev, seq: e.seq };
    } catch (err) {
      if (isNotFound(err)) continue;
      graph.set(name, undefined); // damaged: follow it, check reports it
    }
  }
  const referenced = new Set<string>();
  for (const g of graph.values()) for (const p of g?.prev ?? []) referenced.add(p);
  const heads = [...graph.keys()].filter((n) => !referenced.has(n)).sort();
  const seq = 1 + Math.max(0, ...heads.map((h) => graph.get(h)?.seq ?? 0));
  const who = whoAmI();
  const entry: AuditEntry = {
    version: AUDIT_VERSION,
    time: (opts.now?.() ?? new Date()).toISOString(),
    seq,
    prev: heads,
    operation: rec.operation,
    result: rec.result,
    ...(rec.error !== undefined ? { error: rec.error } : {}),
    hostname: os.hostname(),
    username: who.username,
    uid: who.uid,
    ...(process.env.SUDO_USER ? { sudo_user: process.env.SUDO_USER } : {}),
    pid: process.pid,
    program_version: PROGRAM_VERSION,
    ...(rec.profile !== undefined ? { profile: rec.profile } : {}),
    ...(rec.args !== undefined ? { args: rec.args } : {}),
    ...(rec.snapshots !== undefined ? { snapshots: compactSnapshots(rec.snapshots) } : {}),
    ...(rec.details !== undefined ? { details: rec.details } : {}),
  };
  const id = await repo.saveUnpacked('audit', Buffer.from(JSON.stringify(entry), 'utf8'), AAD_AUDIT);
  seen.entries[id] = { prev: heads, seq };
  await saveSeen(stateDir, seen, repo);
  return id;
}

function compactSnapshots(s: NonNullable<AuditRecord['snapshots']>): NonNullable<AuditRecord['snapshots']> {
  const out: NonNullable<AuditRecord['snapshots']> = {};
  if (s.added && s.added.length > 0) out.added = [...new Set(s.added)];
  if (s.removed && s.removed.length > 0) out.removed = [...new Set(s.removed)];
  if (s.read && s.read.length > 0) out.read = [...new Set(s.read)];
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Reading and verifying

export interface AuditProblem {
  kind: 'audit-damaged' | 'audit-missing' | 'audit-inconsistent';
  message: string;
  /** The entry concerned, e.g. "audit/<id>". */
  file: string;
  entry: string;
}

export interface AuditNote {
  kind: 'audit-fork' | 'audit-roots' | 'audit-acknowledged';
  message: string;
}

export interface AuditLog {
  /** Readable entries in log order: by seq, then time, then id (a topological order of the chain). */
  entries: StoredAuditEntry[];
  /** Entries no other entry follows; more than one means concurrent appends not merged yet. */
  heads: string[];
  problems: AuditProblem[];
  notes: AuditNote[];
}

/** Log order: seq, then time, then id. Every entry comes after the entries it follows. */
export function sortAudit(list: StoredAuditEntry[]): StoredAuditEntry[] {
  return list.sort(
    (a, b) =>
      a.seq - b.seq || (a.time < b.time ? -1 : a.time > b.time ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/**
 * Reads every entry from the repository itself (no cache) and checks the chain:
 * - an entry whose file fails its storage id, authentication or parsing is **damaged** (altered);
 * - an id named in some entry's `prev` that is not stored is **missing** (removed);
 * - an id this machine saw earlier (the local state, or `known`) that is no longer stored is **missing**
 *   too — this is how removal of the newest entries, which nothing else references yet, is detected;
 * - several heads (a **fork**) or several first entries are notes, not problems: two appends at once
 *   produce them, and the next append merges the heads.
 * Entries read are remembered in the local state, so a later removal is detected on this machine.
 */
export async function readAuditLog(
  repo: AuditRepo,
  opts: AuditOptions & { known?: Iterable<string> } = {},
): Promise<AuditLog> {
  const stateDir = stateDirOf(opts);
  const seen = await loadSeen(stateDir, repo);
  const names = await repo.listNames('audit');
  const stored = new Set(names);
  const entries: StoredAuditEntry[] = [];
  const problems: AuditProblem[] = [];
  const notes: AuditNote[] = [];
  const damaged = new Set<string>();
  for (const name of names) {
    try {
      entries.push(await loadAuditEntry(repo, name));
    } catch (err) {
      if (isNotFound(err)) {
        stored.delete(name);
        continue;
      }
      damaged.add(name);
      problems.push({
        kind: 'audit-damaged',
        message: `audit entry audit/${name} is damaged or was altered: ${errorMessage(err)}`,
        file: `audit/${name}`,
        entry: name,
      });
    }
  }
  const byId = new Map(entries.map((e) => [e.id, e]));
  const referenced = new Set<string>();
  const reported = new Set<string>();
  for (const e of entries) {
    for (const p of e.prev) {
      referenced.add(p);
      if (!stored.has(p) && !reported.has(p)) {
        reported.add(p);
        problems.push({
          kind: 'audit-missing',
          message: `audit entry ${p} is missing (removed): entry ${e.id.slice(0, 8)} (${e.operation}, ${e.time}) follows it`,
          file: `audit/${p}`,
          entry: p,
        });
      }
    }
    const prevSeqs = e.prev.map((p) => byId.get(p)?.seq);
    if (prevSeqs.every((s) => s !== undefined)) {
      const want = 1 + Math.max(0, ...(prevSeqs as number[]));
      if (e.seq !== want) {
        problems.push({
          kind: 'audit-inconsistent',
          message: `audit entry ${e.id} has seq ${e.seq} but follows entries that imply ${want}`,
          file: `audit/${e.id}`,
          entry: e.id,
        });
      }
    }
  }
  const known = new Set([...Object.keys(seen.entries), ...(opts.known ?? [])]);
  for (const k of [...known].sort()) {
    if (!stored.has(k) && !reported.has(k)) {
      reported.add(k);
      problems.push({
        kind: 'audit-missing',
        message: `audit entry ${k} is missing (removed): this machine saw it in the log earlier`,
        file: `audit/${k}`,
        entry: k,
      });
    }
  }
  // Problems acknowledged by a later "repair audit" entry are notes from then on (the entry itself is chained).
  const acknowledged = new Set<string>();
  for (const e of entries) {
    const ack = e.operation === 'repair audit' ? e.details?.acknowledged : undefined;
    if (Array.isArray(ack)) for (const a of ack) if (typeof a === 'string') acknowledged.add(a);
  }
  for (let i = problems.length - 1; i >= 0; i--) {
    if (acknowledged.has(problems[i].entry)) {
      notes.push({ kind: 'audit-acknowledged', message: `${problems[i].message} (acknowledged by repair audit)` });
      problems.splice(i, 1);
    }
  }
  const heads = [...stored].filter((n) => !referenced.has(n)).sort();
  if (heads.length > 1) {
    notes.push({
      kind: 'audit-fork',
      message: `the audit log has ${heads.length} newest entries (concurrent appends); the next entry merges them`,
    });
  }
  const roots = entries.filter((e) => e.prev.length === 0);
  if (roots.length > 1)
    notes.push({
      kind: 'audit-roots',
      message: `the audit log has ${roots.length} first entries (appended concurrently into an empty log)`,
    });
  // Remember what is stored now (readable or not), never forgetting what was seen before.
  for (const e of entries) seen.entries[e.id] = { prev: e.prev, seq: e.seq };
  for (const d of damaged) seen.entries[d] ??= { prev: [], seq: 0 };
  await saveSeen(stateDir, seen, repo);
  return { entries: sortAudit(entries), heads, problems, notes };
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  heads: string[];
  problems: AuditProblem[];
  notes: AuditNote[];
}

/** The chain checks of readAuditLog, as check reports them (spec §14.3). */
export async function verifyAuditLog(
  repo: AuditRepo,
  opts: AuditOptions & { known?: Iterable<string> } = {},
): Promise<AuditVerification> {
  const log = await readAuditLog(repo, opts);
  return {
    ok: log.problems.length === 0,
    entries: log.entries.length,
    heads: log.heads,
    problems: log.problems,
    notes: log.notes,
  };
}

/**
 * `repo repair audit`: appends an entry that acknowledges every current problem of the log (removed or
 * damaged entries), so that check reports them as notes from then on. Nothing is deleted or rewritten; the
 * acknowledging entry names the ids and is chained like any other. Returns the acknowledged ids.
 */
export async function acknowledgeAuditProblems(
  repo: AuditRepo,
  opts: AuditOptions & { args?: string[] } = {},
): Promise<string[]> {
  const log = await readAuditLog(repo, opts);
  const ids = [...new Set(log.problems.map((p) => p.entry))].sort();
  if (ids.length === 0) return [];
  await appendAudit(
    repo,
    {
      operation: 'repair audit',
      result: 'success',
      args: opts.args,
      details: { acknowledged: ids, problems: log.problems.map((p) => p.message) },
    },
    opts,
  );
  return ids;
}

// ---------------------------------------------------------------------------------------------------------
// Filtering (repo log)

export interface AuditFilter {
  operations?: string[];
  hosts?: string[];
  users?: string[];
  results?: AuditResult[];
  profiles?: string[];
  /** A snapshot id or prefix that must appear among added, removed or read snapshots. */
  snapshot?: string;
  since?: Date;
  until?: Date;
}

export function matchesAudit(e: StoredAuditEntry, f: AuditFilter): boolean {
  if (
    f.operations &&
    f.operations.length > 0 &&
    !f.operations.some((o) => e.operation === o || e.operation.startsWith(o + ' '))
  )
    return false;
  if (f.hosts && f.hosts.length > 0 && !f.hosts.includes(e.hostname)) return false;
  if (
    f.users &&
    f.users.length > 0 &&
    !f.users.includes(e.username) &&
    !(e.sudo_user !== undefined && f.users.includes(e.sudo_user))
  )
    return false;
  if (f.results && f.results.length > 0 && !f.results.includes(e.result)) return false;
  if (f.profiles && f.profiles.length > 0 && (e.profile === undefined || !f.profiles.includes(e.profile))) return false;
  const t = Date.parse(e.time);
  if (f.since && t < f.since.getTime()) return false;
  if (f.until && t > f.until.getTime()) return false;
  if (f.snapshot !== undefined) {
    const ids = [...(e.snapshots?.added ?? []), ...(e.snapshots?.removed ?? []), ...(e.snapshots?.read ?? [])];
    if (!ids.some((id) => id.startsWith(f.snapshot!))) return false;
  }
  return true;
}

/** The newest entry (in log order) that satisfies `pred`. */
export function newestAudit(
  entries: StoredAuditEntry[],
  pred: (e: StoredAuditEntry) => boolean,
): StoredAuditEntry | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if (pred(entries[i])) return entries[i];
  return undefined;
}

/** Appends without failing the caller: an audit entry that cannot be written becomes a warning. */
export async function tryAppendAudit(
  repo: AuditRepo,
  rec: AuditRecord,
  onWarning: (msg: string) => void,
  opts: AuditOptions = {},
): Promise<string | undefined> {
  try {
    return await appendAudit(repo, rec, opts);
  } catch (err) {
    onWarning(`could not append to the audit log: ${errorMessage(err)}`);
    return undefined;
  }
}
