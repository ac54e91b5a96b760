// Turns a user-supplied repository location into a Backend; the one place where wrappers get stacked.
// Must never create anything when opening, and never echo credentials from a location in errors.

import { RepoError } from '../core/errors.js';
import type { Backend } from './backend.js';
import { LocalBackend } from './local.js';

/** A parsed repository location. Only local directories exist in this build. */
export interface ParsedLocation {
  scheme: 'local';
  path: string;
}

// A scheme is at least two characters so that Windows drive letters ("C:\repo") stay paths.
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]+):/;

/**
 * Parses a location: `local:PATH` or a plain path → local. Any other `scheme:` prefix →
 * RepoError('INVALID_ARGUMENT', 'unknown repository scheme …'). Empty → INVALID_ARGUMENT.
 */
export function parseLocation(location: string): ParsedLocation {
  if (typeof location !== 'string' || location === '') {
    throw new RepoError('INVALID_ARGUMENT', 'no repository location given');
  }
  const m = SCHEME_RE.exec(location);
  if (m === null) return { scheme: 'local', path: location };
  const scheme = m[1];
  if (scheme === 'local') {
    const p = location.slice(m[0].length);
    if (p === '') throw new RepoError('INVALID_ARGUMENT', 'no path given after "local:"');
    return { scheme: 'local', path: p };
  }
  // Only the scheme is echoed: the rest of a location may hold credentials.
  throw new RepoError(
    'INVALID_ARGUMENT',
    `unknown repository scheme ${JSON.stringify(scheme)} (supported: a local path or local:PATH; ` +
      `to use a directory whose name contains ':', write it as ./NAME or local:NAME)`,
    { scheme },
  );
}

/** Opens the existing repository at `location`. Creates nothing; see LocalBackend.open for errors. */
export async function openBackend(location: string): Promise<Backend> {
  const loc = parseLocation(location);
  return LocalBackend.open(loc.path);
}

/** Creates the layout of a new repository at `location` (for init); see LocalBackend.createAt for errors. */
export async function createBackend(location: string): Promise<Backend> {
  const loc = parseLocation(location);
  return LocalBackend.createAt(loc.path);
}
