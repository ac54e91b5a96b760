// How a failed SFTP request becomes a typed error: a missing file → NotFoundError, a lost connection →
// TransientBackendError (so the RetryBackend repeats it), any other status → BackendError naming the server,
// the operation and the file. Must never put key material or passphrases into a message.

import { BackendError, NotFoundError, RepoError } from '../core/errors.js';
import { TransientBackendError } from './backend.js';
import type { SftpSession } from './sftp-connection.js';
import { SFTP_STATUS, ShortReadError, sftpStatusOf } from './sftp-io.js';

export type SftpAction = 'open' | 'create' | 'save' | 'load' | 'stat' | 'list' | 'remove';

/** The typed error for `err`, thrown by `action` on `file`; a lost connection also ends the session `s`. */
export function mapSftpError(
  err: unknown,
  s: SftpSession,
  where: { who: string; host: string },
  action: SftpAction,
  file: string,
  mayHaveSucceeded: boolean,
): RepoError {
  if (err instanceof RepoError) return err;
  const code = sftpStatusOf(err);
  const detail = err instanceof Error ? err.message : String(err);
  const ctx = { file, backend: 'sftp', host: where.host };
  const cause = { cause: err };
  if (code === SFTP_STATUS.NO_SUCH_FILE) {
    return action === 'save'
      ? new NotFoundError(`sftp ${where.who}: cannot save ${file}: its directory does not exist`, ctx, cause)
      : new NotFoundError(`${file} not found`, { file }, cause);
  }
  if (code === SFTP_STATUS.PERMISSION_DENIED) {
    return new BackendError(`sftp ${where.who}: permission denied: cannot ${action} ${file}`, ctx, cause);
  }
  if (code === SFTP_STATUS.OP_UNSUPPORTED) {
    return new BackendError(
      `sftp ${where.who}: cannot ${action} ${file}: the server does not support this operation`,
      ctx,
      cause,
    );
  }
  if (err instanceof ShortReadError) {
    return new BackendError(
      `sftp ${where.who}: cannot load ${file}: ${err.message}`,
      { ...ctx, reason: 'short' },
      cause,
    );
  }
  if (code === undefined || code === SFTP_STATUS.NO_CONNECTION || code === SFTP_STATUS.CONNECTION_LOST || !s.alive) {
    // ssh2 fails every request in flight when the channel ends ("No response from server").
    s.alive = false;
    s.end();
    return new TransientBackendError(`sftp ${where.who}: cannot ${action} ${file}: connection lost (${detail})`, ctx, {
      cause: err,
      mayHaveSucceeded,
    });
  }
  return new BackendError(`sftp ${where.who}: cannot ${action} ${file}: ${detail}`, ctx, cause);
}
