// Finds the compiled script of a worker thread that sits next to the module starting it.
// Tests run the TypeScript sources, which cannot be a worker's entry point, so they use the build's copy.

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `script` (e.g. "seal-worker.js") beside the calling module, or undefined when it has not been built. */
export function siblingWorkerUrl(here: string, script: string): URL | undefined {
  let url = new URL(`./${script}`, here);
  if (here.endsWith('.ts')) {
    const folder = fileURLToPath(new URL('.', here)).split(/[\\/]/).filter(Boolean).pop();
    url = new URL(`../../dist/${folder}/${script}`, here);
  }
  return fs.existsSync(fileURLToPath(url)) ? url : undefined;
}
