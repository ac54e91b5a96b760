// Cryptographically secure random bytes from the operating system via node:crypto.
// Must never fall back to Math.random or any other non-cryptographic source.

import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { RepoError } from '../core/errors.js';

export function randomBytes(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RepoError('INVALID_ARGUMENT', `cannot make ${n} random bytes`);
  return nodeRandomBytes(n);
}
