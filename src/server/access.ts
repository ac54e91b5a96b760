// Who may do what through `repo serve`. backup: read everything, create new data/index/snapshots/locks/audit
// files, delete only lock files (restic rest-server's append-only rules); restore: read only; admin: all.
// Must decide before anything is changed: a refused request changes nothing.

import type { FileType } from '../backend/backend.js';
import type { Role } from './credentials.js';

export type Operation = 'read' | 'list' | 'create-repository' | 'write' | 'delete';

/** The files a backup role may create (never config or keys: those change who can open the repository). */
const BACKUP_CREATES: ReadonlySet<FileType> = new Set(['data', 'index', 'snapshots', 'locks', 'audit']);

/** The effective role: --append-only caps every user at backup rights. */
export function effectiveRole(role: Role, appendOnly: boolean): Role {
  return appendOnly && role === 'admin' ? 'backup' : role;
}

/**
 * Undefined when allowed, else the one-line reason for the 403. `exists` matters only for writes by a
 * backup role: a new file may be created, an existing one not replaced (identical bytes are let through
 * by the caller, since they change nothing).
 */
export function refusal(role: Role, op: Operation, type: FileType | undefined, exists: boolean): string | undefined {
  if (op === 'read' || op === 'list') return undefined;
  if (role === 'admin') return undefined;
  if (role === 'restore')
    return `role restore is read-only: it may not ${op === 'delete' ? 'delete' : 'write'} ${type ?? 'repositories'}`;
  if (op === 'create-repository') return 'role backup may not create repositories';
  if (op === 'delete')
    return type === 'locks' ? undefined : `role backup may delete only lock files, not ${type} files`;
  if (type === undefined || !BACKUP_CREATES.has(type)) return `role backup may not write ${type} files`;
  if (exists) return `role backup may not overwrite the existing ${type} file`;
  return undefined;
}
