// One audit log entry (spec §14): what a caller records, the stored shape with its chain links, and its
// decoding. Must never accept an entry without time, operation, result, seq or prev, or of a newer version.

import { FormatError } from '../core/errors.js';
import { isIdHex } from '../core/id.js';
import { AAD_AUDIT } from '../repository/aad.js';
import type { Repository } from '../repository/repository.js';

export const AUDIT_VERSION = 1;

export type AuditResult = 'success' | 'failure' | 'interrupted' | 'partial';

/** What a caller says about one operation; who, where, when and the chain links are filled in. */
export interface AuditRecord {
  /** "init", "backup", "forget", "prune", "restore", "dump", "copy", "key add", "repair index", "check", … */
  operation: string;
  result: AuditResult;
  error?: string;
  snapshots?: { added?: string[]; removed?: string[]; read?: string[] };
  /** The operations profile (repo.yaml) that ran it, if any. */
  profile?: string;
  /** Command-line arguments of the command (never a password: the CLI does not accept one). */
  args?: string[];
  /** Operation-specific facts, e.g. bytes added, duration, a check's read rate. */
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  version: number;
  time: string;
  /** 1 + the largest seq among `prev` (1 for a first entry). */
  seq: number;
  /** Ids of the entries this one follows: every head of the log when it was written (sorted). */
  prev: string[];
  operation: string;
  result: AuditResult;
  error?: string;
  hostname: string;
  username: string;
  uid?: number;
  /** The invoking user behind sudo, when there is one. */
  sudo_user?: string;
  pid: number;
  program_version: string;
  profile?: string;
  args?: string[];
  snapshots?: { added?: string[]; removed?: string[]; read?: string[] };
  details?: Record<string, unknown>;
}

export interface StoredAuditEntry extends AuditEntry {
  id: string;
}

export function parseAuditEntry(plain: Buffer, id: string): StoredAuditEntry {
  let e: AuditEntry;
  try {
    e = JSON.parse(plain.toString('utf8'));
  } catch (err) {
    throw new FormatError(`audit entry ${id} is not valid JSON`, { file: `audit/${id}` }, { cause: err });
  }
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.time !== 'string' ||
    typeof e.operation !== 'string' ||
    typeof e.result !== 'string' ||
    !Number.isSafeInteger(e.seq) ||
    !Array.isArray(e.prev) ||
    !e.prev.every((p) => typeof p === 'string' && isIdHex(p))
  ) {
    throw new FormatError(`audit entry ${id} lacks time, operation, result, seq or prev`, { file: `audit/${id}` });
  }
  if (e.version > AUDIT_VERSION)
    throw new FormatError(`audit entry ${id} has version ${e.version}, newer than this program knows`, {
      file: `audit/${id}`,
    });
  return { ...e, id };
}

export async function loadAuditEntry(repo: Pick<Repository, 'loadUnpacked'>, id: string): Promise<StoredAuditEntry> {
  return parseAuditEntry(await repo.loadUnpacked('audit', id, AAD_AUDIT), id);
}
