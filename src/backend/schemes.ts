// The repository location schemes this build knows, one line each: adding a kind of storage is one file
// with its SchemeFactory plus one line here. The s3: and sftp: factories live here, not beside their location
// parsers, because they load their backend lazily and the backend imports the parser: there, they would close
// an import cycle (test/guard/cycles.test.ts).

import { RepoError } from '../core/errors.js';
import { LocalBackend } from './local.js';
import { SchemeRegistry, type SchemeFactory } from './registry.js';
import { rcloneScheme } from './rclone.js';
import { restScheme } from './rest-location.js';
import { parseS3Location, s3ConfigFor, type S3Location } from './s3-location.js';
import { formatSftpLocation, parseSftpLocation, resolveSftpTarget, type SftpLocation } from './sftp-location.js';

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

/** The `s3:` scheme: loads the AWS SDK (~150 ms) only when an s3: location is actually opened. */
export const s3Scheme: SchemeFactory<S3Location> = {
  scheme: 's3',
  syntax: 's3:https://HOST/BUCKET[/PREFIX] or s3:BUCKET[/PREFIX]',
  remote: true,
  parse: parseS3Location,
  async connect(loc, options) {
    const where: S3Location = { bucket: loc.bucket, prefix: loc.prefix };
    if (loc.endpoint !== undefined) where.endpoint = loc.endpoint;
    if (loc.region !== undefined) where.region = loc.region;
    const config = s3ConfigFor(where, options.s3, options.env ?? process.env);
    const { S3Backend } = await import('./s3.js');
    const backend = new S3Backend(config);
    return { backend, checkRepository: () => backend.checkRepository(), checkEmpty: () => backend.checkEmpty() };
  },
};

/** The `sftp:` scheme: loads ssh2 only when an sftp: location is actually opened. */
export const sftpScheme: SchemeFactory<SftpLocation> = {
  scheme: 'sftp',
  syntax: 'sftp:[USER@]HOST:/PATH or sftp://[USER@]HOST[:PORT]//PATH',
  remote: true,
  parse: parseSftpLocation,
  async connect(loc, options) {
    const target = resolveSftpTarget(loc, options.sftp, options.env ?? process.env);
    const { SftpBackend } = await import('./sftp.js');
    const backend = new SftpBackend(target, formatSftpLocation(loc));
    return {
      backend,
      checkRepository: () => backend.checkRepository(),
      createRepository: () => backend.createRepository(),
    };
  },
};

export const SCHEMES = new SchemeRegistry()
  .register(localScheme)
  .register(s3Scheme)
  .register(sftpScheme)
  .register(restScheme)
  .register(rcloneScheme);
