// The `rest:` scheme: parses `rest:http(s)://[user:pass@]host[:port]/path`, reads the TLS files, and builds a
// RestBackend over HTTP/1.1. Must never echo the location's text in an error nor keep credentials in `location`.

import { readFileSync } from 'node:fs';
import { RepoError } from '../core/errors.js';
import type { OpenOptions, SchemeFactory } from './registry.js';

export const DEFAULT_REST_CONNECTIONS = 5;
/** A socket silent this long fails its request (transient, so it is retried). */
export const REST_IDLE_TIMEOUT_MS = 60_000;

/** Where a REST repository lives; `username`/`password` only when the URL held them. */
export interface RestLocation {
  /** `http://host:port` or `https://host:port`. */
  origin: string;
  /** With leading and trailing '/'. */
  basePath: string;
  username?: string;
  password?: string;
}

function invalid(message: string): RepoError {
  return new RepoError('INVALID_ARGUMENT', message);
}

export function parseRestLocation(rest: string): RestLocation {
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw invalid('invalid URL after "rest:" (expected rest:http(s)://[user:pass@]host[:port]/path)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('a rest: URL must start with http:// or https://');
  if (url.search !== '' || url.hash !== '') throw invalid('a rest: location must not have a query or a fragment');
  const loc: RestLocation = {
    origin: url.origin,
    basePath: url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`,
  };
  try {
    if (url.username !== '') loc.username = decodeURIComponent(url.username);
    if (url.password !== '') loc.password = decodeURIComponent(url.password);
  } catch {
    throw invalid('invalid percent-encoding in the credentials of the rest: location');
  }
  return loc;
}

/** The display form: the URL without credentials. */
export function formatRestLocation(loc: RestLocation): string {
  return `rest:${loc.origin}${loc.basePath}`;
}

/** A positive integer `-o NAME=N`, or the default. */
export function connectionsOption(options: OpenOptions, name: string, dflt: number): number {
  const raw = options.extended?.[name];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > 128) throw invalid(`-o ${name} must be an integer from 1 to 128`);
  return n;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new RepoError(
      'INVALID_ARGUMENT',
      `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { path: file },
    );
  }
}

/** The `Basic` Authorization value from the location, else REPO_REST_USERNAME / REPO_REST_PASSWORD. */
function authorization(loc: RestLocation, env: Record<string, string | undefined>): string | undefined {
  const user = loc.username ?? env.REPO_REST_USERNAME;
  const pass = loc.password ?? env.REPO_REST_PASSWORD;
  if (user === undefined || user === '') return undefined;
  return `Basic ${Buffer.from(`${user}:${pass ?? ''}`).toString('base64')}`;
}

export const restScheme: SchemeFactory<RestLocation> = {
  scheme: 'rest',
  syntax: 'rest:http(s)://[USER:PASS@]HOST[:PORT]/PATH',
  remote: true,
  parse: parseRestLocation,
  async connect(loc, options) {
    const connections = connectionsOption(options, 'rest.connections', DEFAULT_REST_CONNECTIONS);
    const https = loc.origin.startsWith('https:');
    const ca = https ? options.tls?.caFiles?.map((f) => readPem(f, '--cacert')) : undefined;
    const cert =
      https && options.tls?.clientCertFile !== undefined
        ? readPem(options.tls.clientCertFile, '--tls-client-cert')
        : undefined;
    // Loaded when a rest: location is opened, not at start-up: node:http, https, http2 and tls cost every command.
    const { Http1Transport } = await import('./http-transport.js');
    const { RestBackend } = await import('./rest.js');
    const transport = new Http1Transport({
      origin: loc.origin,
      connections,
      idleTimeoutMs: REST_IDLE_TIMEOUT_MS,
      ...(ca === undefined || ca.length === 0 ? {} : { ca }),
      ...(cert === undefined ? {} : { clientCertAndKey: cert }),
    });
    const auth = authorization(loc, options.env ?? process.env);
    const backend = new RestBackend({
      location: formatRestLocation(loc),
      basePath: loc.basePath,
      transport,
      connections,
      ...(auth === undefined ? {} : { authorization: auth }),
    });
    return { backend, checkRepository: () => backend.checkRepository(), checkEmpty: () => backend.checkEmpty() };
  },
};
