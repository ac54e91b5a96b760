// Parsing of s3: locations and of the REPO_S3_* options; pure functions, no server and no AWS SDK.
// Must never let a credential from a location reach an error message.

import { describe, expect, it } from 'vitest';
import { RepoError } from '../../src/core/errors.js';
import {
  formatS3Location,
  parseLocation,
  parseS3Location,
  s3ConfigFor,
  s3OptionsFromEnv,
  validateS3Options,
} from '../../src/backend/index.js';

function errorOf(fn: () => unknown): RepoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RepoError);
    return e as RepoError;
  }
  throw new Error('expected an error');
}

describe('parseS3Location', () => {
  it('custom endpoints with bucket and prefix', () => {
    expect(parseS3Location('https://minio.example.com:9000/bkt/some/prefix')).toEqual({
      endpoint: 'https://minio.example.com:9000',
      bucket: 'bkt',
      prefix: 'some/prefix',
    });
    expect(parseS3Location('http://127.0.0.1:9000/bkt')).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'bkt',
      prefix: '',
    });
    expect(parseS3Location('http://127.0.0.1:9000/bkt/')).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'bkt',
      prefix: '',
    });
    expect(parseS3Location('https://host/bkt//a///b/')).toEqual({
      endpoint: 'https://host',
      bucket: 'bkt',
      prefix: 'a/b',
    });
    expect(parseS3Location('HTTPS://Host.Example/bkt/p')).toEqual({
      endpoint: 'https://host.example',
      bucket: 'bkt',
      prefix: 'p',
    });
  });

  it('Amazon S3: bucket/prefix, and Amazon hosts select Amazon and their region', () => {
    expect(parseS3Location('my-bucket/backups/laptop')).toEqual({ bucket: 'my-bucket', prefix: 'backups/laptop' });
    expect(parseS3Location('my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseS3Location('s3.amazonaws.com/my-bucket/p')).toEqual({ bucket: 'my-bucket', prefix: 'p' });
    expect(parseS3Location('s3.eu-west-1.amazonaws.com/my-bucket')).toEqual({
      bucket: 'my-bucket',
      prefix: '',
      region: 'eu-west-1',
    });
    expect(parseS3Location('https://s3.us-west-2.amazonaws.com/my-bucket/x')).toEqual({
      bucket: 'my-bucket',
      prefix: 'x',
      region: 'us-west-2',
    });
  });

  it('rejects bad locations without echoing them', () => {
    const secret = 'wJalrXUtnFEMI-K7MDENG';
    for (const rest of [
      '',
      `https://AKIAEXAMPLE:${secret}@host/bkt`,
      `https://${secret}@host/bkt`,
      'https://host/',
      'https://host',
      `https://host/bkt?X-Amz-Credential=${secret}`,
      `https://host/bkt#${secret}`,
      `AKIAEXAMPLE:${secret}@host/bkt`,
      `ftp://host/bkt`,
      'bkt/../escape',
      'bkt/./x',
      'bkt/a\\b',
      'bkt/a\u0001b',
      'ab',
      '-bucket',
      'https://host/bk%ZZt',
    ]) {
      const err = errorOf(() => parseS3Location(rest));
      expect(err.code, rest).toBe('INVALID_ARGUMENT');
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain('AKIAEXAMPLE');
      expect(JSON.stringify(err.context)).not.toContain(secret);
    }
  });

  it('parseLocation dispatches s3: and keeps local paths', () => {
    expect(parseLocation('s3:http://127.0.0.1:1234/bk1/p')).toEqual({
      scheme: 's3',
      endpoint: 'http://127.0.0.1:1234',
      bucket: 'bk1',
      prefix: 'p',
    });
    expect(parseLocation('s3:bucket/x')).toEqual({ scheme: 's3', bucket: 'bucket', prefix: 'x' });
    expect(parseLocation('./s3:thing')).toEqual({ scheme: 'local', path: './s3:thing' });
    expect(errorOf(() => parseLocation('s3:')).code).toBe('INVALID_ARGUMENT');
  });

  it('formatS3Location round-trips and never holds credentials', () => {
    for (const s of ['http://127.0.0.1:9000/bkt/a/b', 'https://host/bkt', 'bkt/p', 'bkt']) {
      const loc = parseS3Location(s);
      expect(formatS3Location(loc)).toBe(`s3:${s}`);
      expect(parseS3Location(formatS3Location(loc).slice(3))).toEqual(loc);
    }
  });
});

describe('S3 options from the environment', () => {
  it('reads every REPO_S3_* variable', () => {
    expect(
      s3OptionsFromEnv({
        REPO_S3_PATH_STYLE: 'false',
        REPO_S3_STORAGE_CLASS: 'standard_ia',
        REPO_S3_SSE: 'aws:kms',
        REPO_S3_SSE_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:111122223333:key/abcd',
        REPO_S3_CONNECTIONS: '12',
      }),
    ).toEqual({
      pathStyle: false,
      storageClass: 'STANDARD_IA',
      sse: 'aws:kms',
      sseKmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abcd',
      connections: 12,
    });
    expect(s3OptionsFromEnv({ REPO_S3_PATH_STYLE: 'TRUE', REPO_S3_SSE: 'aes256' })).toEqual({
      pathStyle: true,
      sse: 'AES256',
    });
    expect(s3OptionsFromEnv({})).toEqual({});
    expect(s3OptionsFromEnv({ REPO_S3_CONNECTIONS: '' })).toEqual({});
  });

  it('rejects malformed values naming the variable', () => {
    for (const [name, value] of [
      ['REPO_S3_PATH_STYLE', 'maybe'],
      ['REPO_S3_SSE', 'rot13'],
      ['REPO_S3_CONNECTIONS', '0'],
      ['REPO_S3_CONNECTIONS', 'many'],
      ['REPO_S3_CONNECTIONS', '5000'],
      ['REPO_S3_STORAGE_CLASS', 'glacier!'],
    ]) {
      const err = errorOf(() => s3OptionsFromEnv({ [name]: value }));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(
        name === 'REPO_S3_CONNECTIONS' || name === 'REPO_S3_STORAGE_CLASS' ? /REPO_S3_|S3/ : new RegExp(name),
      );
    }
    expect(errorOf(() => s3OptionsFromEnv({ REPO_S3_SSE: 'AES256', REPO_S3_SSE_KMS_KEY_ID: 'k' })).code).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('validateS3Options checks ranges', () => {
    expect(errorOf(() => validateS3Options({ partSizeBytes: 1024 })).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(() => validateS3Options({ listPageSize: 0 })).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(() => validateS3Options({ connections: 1.5 })).code).toBe('INVALID_ARGUMENT');
    expect(validateS3Options({ connections: 3 })).toEqual({ connections: 3 });
  });

  it('s3ConfigFor: explicit options win over the environment; region order', () => {
    const loc = parseS3Location('http://127.0.0.1:9/bkt/p');
    const env = { REPO_S3_CONNECTIONS: '7', REPO_S3_PATH_STYLE: 'false', AWS_DEFAULT_REGION: 'eu-central-1' };
    expect(s3ConfigFor(loc, { connections: 2 }, env)).toEqual({
      ...loc,
      connections: 2,
      pathStyle: false,
      region: 'eu-central-1',
    });
    expect(s3ConfigFor(loc, {}, { ...env, AWS_REGION: 'ap-south-1' }).region).toBe('ap-south-1');
    expect(s3ConfigFor(loc, { region: 'us-west-1' }, { AWS_REGION: 'ap-south-1' }).region).toBe('us-west-1');
    expect(
      s3ConfigFor(parseS3Location('s3.eu-west-3.amazonaws.com/bkt'), {}, { AWS_REGION: 'ap-south-1' }).region,
    ).toBe('eu-west-3');
    expect(s3ConfigFor(loc, {}, {}).region).toBeUndefined();
  });
});
