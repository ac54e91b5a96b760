// What this program is: its version, the repository format it writes, and the line `repo version` prints.
// Its own small module so that `repo version` is answered before the rest of the program loads (cli/entry.ts).

/** The program version stored in every snapshot (`program_version`). */
export const PROGRAM_VERSION = 'repo 0.1.0';

/** The newest repository format this program reads and writes; `init` creates it unless told `--format 1`. */
export const FORMAT_VERSION = 2;

/** The line `repo version` and `repo --version` print. */
export function versionLine(): string {
  return `repo ${PROGRAM_VERSION.replace(/^repo /, '')} (format ${FORMAT_VERSION}, node ${process.version})`;
}
