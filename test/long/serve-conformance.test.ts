// The backend conformance suite through `rest:` against the built CLI's `repo serve` (admin user, local
// repositories served by sub-path), so the server speaks the protocol exactly as the client expects.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { createBackend } from '../../src/backend/open.js';
import { RestBackend } from '../../src/backend/rest.js';
import { unwrap } from '../../src/backend/stack.js';
import { backendConformance } from '../backend/conformance.js';
import { tempDir } from '../helpers/repo.js';
import { addServeUser, type ServeProcess, startServe } from '../helpers/serve.js';

let tmp: string;
let server: ServeProcess;
let counter = 0;

beforeAll(async () => {
  tmp = tempDir('repo-serve-conf-');
  const creds = path.join(tmp, 'users.json');
  await addServeUser(creds, 'admin', 'admin', 'admin pass');
  fs.mkdirSync(path.join(tmp, 'repos'));
  server = await startServe(['--credentials', creds, '--mount', `/=${path.join(tmp, 'repos')}`, '--subpaths']);
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('repo serve', () => {
  backendConformance('RestBackend over repo serve (admin)', async () => {
    const url = server.url.replace('http://', 'http://admin:admin%20pass@');
    const b = await createBackend(`rest:${url}/c${++counter}`, { retry: { attempts: 1 } });
    return { backend: unwrap(b, RestBackend)! };
  });
});
