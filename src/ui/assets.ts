// The files the browser loads: the chart library (uPlot, from its own npm package, copied beside the bundle by
// `npm run build`) and the UI's own script and style sheet. Nothing is fetched from the network, ever.
// Read once from disk and kept in memory; a missing file is an error that names where it was looked for.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RepoError } from '../core/errors.js';

export const ASSETS = {
  'uplot.js': { file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  'uplot.css': { file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'plots.js': { file: 'plots.js', type: 'text/javascript; charset=utf-8' },
  'app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
} as const;

export type AssetName = keyof typeof ASSETS;

/** Where the files may be: beside the bundle (dist/bundle/ui), from dist/ui/, or in the source tree and package. */
function candidates(file: string): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = [
    path.join(here, 'ui', file),
    path.join(here, '..', 'bundle', 'ui', file),
    path.join(here, 'client', file),
  ];
  if (file.startsWith('uPlot')) {
    try {
      out.push(createRequire(import.meta.url).resolve(`uplot/dist/${file}`));
    } catch {
      // not installed as a package here: only the copies above
    }
  }
  return out;
}

const cache = new Map<AssetName, string>();

export function asset(name: AssetName): string {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const places = candidates(ASSETS[name].file);
  for (const p of places) {
    try {
      const text = fs.readFileSync(p, 'utf8');
      cache.set(name, text);
      return text;
    } catch {
      // try the next place
    }
  }
  throw new RepoError(
    'NOT_FOUND',
    `UI file ${ASSETS[name].file} is missing (looked in ${places.join(', ')}): run npm run build`,
  );
}
