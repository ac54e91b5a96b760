// Turns the schema's findings into the lines people read: "repo.yaml:12:7: profiles.home.retention.keep-daily:
// expected a whole number ≥ 0 or "unlimited", got "x"", an unknown key with "did you mean" and the keys allowed
// there, in the order of the file. Positions come from the YAML document's nodes.

import path from 'node:path';
import { isMap, isScalar, type Document, type LineCounter, type Node as YamlNode, type Pair } from 'yaml';
import type { z } from 'zod';
import { RepoError } from '../core/errors.js';
import { ALLOWED_PREFIX } from './config-schema.js';

export interface ConfigIssue {
  path: string;
  line: number;
  col: number;
  message: string;
}

/** An invalid config: every problem found, each with its key path and position. */
export class ConfigError extends RepoError {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    const lines = issues.map(
      (i) => `  ${path.basename(file)}:${i.line}:${i.col}: ${i.path === '' ? '' : i.path + ': '}${i.message}`,
    );
    super(
      'INVALID_ARGUMENT',
      `invalid configuration ${file} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      { file },
    );
    this.name = 'ConfigError';
  }
}

/** ["profiles", "home", "databases", 0, "type"] → "profiles.home.databases[0].type". */
export function keyPath(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}

const SUGGEST_MAX = 3;

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length][b.length];
}

/** "unknown key (did you mean "tags"?); allowed here: …", or the kebab-case name of a snake_case key. */
export function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const snake = key.replace(/_/g, '-');
  let hint = '';
  if (snake !== key && allowed.includes(snake)) hint = ` (keys are kebab-case: did you mean "${snake}"?)`;
  else {
    const close = allowed
      .filter((a) => editDistance(a, key) <= SUGGEST_MAX)
      .sort((a, b) => editDistance(a, key) - editDistance(b, key));
    if (close.length > 0) hint = ` (did you mean "${close[0]}"?)`;
  }
  return `unknown key${hint}; allowed here: ${allowed.join(', ')}`;
}

/** The deepest node of the document along `p` (the key's own node when `keyOf` names a key of the map at `p`). */
function nodeAt(doc: Document, p: readonly PropertyKey[], keyOf?: string): YamlNode | undefined {
  let node = doc.contents as YamlNode | null;
  let found: YamlNode | undefined = node ?? undefined;
  for (const k of p) {
    const child = (node as { get?: (k: unknown, keep: boolean) => unknown } | null)?.get?.(k, true) as
      YamlNode | undefined;
    if (child === undefined || child === null) return found;
    node = child;
    found = child;
  }
  if (keyOf !== undefined && isMap(node)) {
    const pair = node.items.find((it: Pair) => isScalar(it.key) && String(it.key.value) === keyOf);
    if (pair) return pair.key as YamlNode;
  }
  return found;
}

function position(lc: LineCounter, node: YamlNode | undefined): { line: number; col: number } {
  const range = node?.range;
  if (!range) return { line: 1, col: 1 };
  const p = lc.linePos(range[0]);
  return { line: p.line, col: p.col };
}

/** The schema's issues as ConfigIssues, one per unknown key, sorted by position. */
export function configIssues(error: z.ZodError, doc: Document, lc: LineCounter): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of error.issues) {
    if (iss.code === 'unrecognized_keys' && iss.message.startsWith(ALLOWED_PREFIX)) {
      const allowed = iss.message.slice(ALLOWED_PREFIX.length).split(',');
      for (const key of iss.keys) {
        out.push({
          path: keyPath([...iss.path, key]),
          ...position(lc, nodeAt(doc, iss.path, key)),
          message: unknownKeyMessage(key, allowed),
        });
      }
      continue;
    }
    const exists = doc.hasIn(iss.path as unknown[]);
    const message =
      !exists && iss.path.length > 0 ? `missing: ${iss.message.replace(/, got nothing$/, '')}` : iss.message;
    out.push({ path: keyPath(iss.path), ...position(lc, nodeAt(doc, iss.path)), message });
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}
