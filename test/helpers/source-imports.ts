// The source files under src/ and the relative modules each one imports, read with TypeScript's own scanner,
// for the guard tests (layers, cycles, file size). Reads text only: nothing of src/ is loaded or run.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const SRC = path.join(import.meta.dirname, '..', '..', 'src');

export interface SourceFile {
  /** Path under src/, '/'-separated, e.g. `backend/s3.ts`. */
  rel: string;
  source: string;
}

/** Every relative module specifier a source file imports or re-exports: static, type-only or dynamic import(). */
export function importsOf(source: string): string[] {
  return ts
    .preProcessFile(source, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((f) => f.startsWith('.'));
}

/** Every .ts file under src/. */
export function sources(): SourceFile[] {
  return fs
    .readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ rel: f.split(path.sep).join('/'), source: fs.readFileSync(path.join(SRC, f), 'utf8') }));
}
