// The repository location schemes this build knows, one line each: adding a kind of storage is one file
// with its SchemeFactory plus one line here.

import { RepoError } from '../core/errors.js';
import { LocalBackend } from './local.js';
import { SchemeRegistry, type SchemeFactory } from './registry.js';
import { rcloneScheme } from './rclone.js';
import { restScheme } from './rest-location.js';
import { s3Scheme } from './s3-location.js';
import { sftpScheme } from './sftp-location.js';

/** `local:PATH` (and any plain path): a directory on this machine. */
const localScheme: SchemeFactory<{ path: string }> = {
  scheme: 'local',
  syntax: 'a local path or local:PATH',
  remote: false,
  parse(rest) {
    if (rest === '') throw new RepoError('INVALID_ARGUMENT', 'no path given after "local:"');
    return { path: rest };
  },
  async connect(loc, _options, mode) {
    return { backend: mode === 'open' ? await LocalBackend.open(loc.path) : await LocalBackend.createAt(loc.path) };
  },
};

export const SCHEMES = new SchemeRegistry()
  .register(localScheme)
  .register(s3Scheme)
  .register(sftpScheme)
  .register(restScheme)
  .register(rcloneScheme);
