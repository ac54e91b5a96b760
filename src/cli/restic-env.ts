// restic's environment variables, so that a restic script runs unchanged with `repo` in its place: where none of
// repo's own variables of a kind is set, restic's of that kind are taken (repository location, password source).
// Whole kinds only: a REPO_PASSWORD beside a RESTIC_PASSWORD_FILE would otherwise combine into a source neither
// tool would pick. The adopted password variables are password variables like ours: children never see them.

/** repo's variable for each restic one, grouped by kind (one kind is adopted or not as a whole). */
const KINDS: readonly (readonly [string, string][])[] = [
  [['REPO_REPOSITORY', 'RESTIC_REPOSITORY']],
  [
    ['REPO_PASSWORD', 'RESTIC_PASSWORD'],
    ['REPO_PASSWORD_FILE', 'RESTIC_PASSWORD_FILE'],
    ['REPO_PASSWORD_COMMAND', 'RESTIC_PASSWORD_COMMAND'],
  ],
  [
    ['REPO_FROM_REPOSITORY', 'RESTIC_FROM_REPOSITORY'],
    ['REPO_FROM_PASSWORD', 'RESTIC_FROM_PASSWORD'],
    ['REPO_FROM_PASSWORD_FILE', 'RESTIC_FROM_PASSWORD_FILE'],
    ['REPO_FROM_PASSWORD_COMMAND', 'RESTIC_FROM_PASSWORD_COMMAND'],
  ],
];

const set = (v: string | undefined) => v !== undefined && v !== '';

/** Copies restic's variables into repo's where a kind has none of repo's set; returns the names adopted. */
export function adoptResticEnvironment(env: NodeJS.ProcessEnv = process.env): string[] {
  const adopted: string[] = [];
  for (const kind of KINDS) {
    if (kind.some(([ours]) => set(env[ours]))) continue;
    for (const [ours, theirs] of kind) {
      if (!set(env[theirs])) continue;
      env[ours] = env[theirs];
      adopted.push(theirs);
    }
  }
  return adopted;
}
