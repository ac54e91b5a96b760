// The results of `repo analyze` runs, kept in the local state directory (one JSON file per run) so that
// `repo ui` and `repo report` can compare the dedupe and compression of runs over time.
// Never holds secrets or file contents: only the paths analysed and the figures analyze printed.

import fs from 'node:fs/promises';
import path from 'node:path';
import { defaultStateDir, readJsonFile, writeJsonFile } from './state.js';

/** One stored run: analyze's JSON output (`message_type: "analysis"`) plus when it ran and against what. */
export interface StoredAnalysis {
  time: string;
  /** The repository id compared against (-r), if any. */
  repository?: string;
  analysis: Record<string, unknown>;
}

const DIR = 'analyses';
/** Runs kept; older ones are removed when a new one is stored. */
const KEEP = 200;

export function analysesDir(stateDir = defaultStateDir()): string {
  return path.join(stateDir, DIR);
}

/** Stores a run (atomically) and drops the oldest beyond KEEP. */
export async function recordAnalysis(run: StoredAnalysis, stateDir = defaultStateDir()): Promise<string> {
  const dir = analysesDir(stateDir);
  const file = path.join(dir, `${run.time.replace(/[:.]/g, '-')}-${process.pid}.json`);
  await writeJsonFile(file, run);
  const names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  for (const old of names.slice(0, Math.max(0, names.length - KEEP))) await fs.rm(path.join(dir, old), { force: true });
  return file;
}

/** Stored runs, oldest first; unreadable files are skipped. */
export async function readAnalyses(stateDir = defaultStateDir()): Promise<StoredAnalysis[]> {
  let names: string[];
  try {
    names = (await fs.readdir(analysesDir(stateDir))).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch {
    return [];
  }
  const runs: StoredAnalysis[] = [];
  for (const n of names.sort()) {
    const r = await readJsonFile<StoredAnalysis>(path.join(analysesDir(stateDir), n));
    if (r !== undefined && typeof r.time === 'string' && typeof r.analysis === 'object' && r.analysis !== null)
      runs.push(r);
  }
  return runs.sort((a, b) => a.time.localeCompare(b.time));
}
