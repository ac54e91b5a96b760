// The environment of every process this program starts (hooks, --stdin-from-command, database dumps, password
// commands): ours, without the variables that hold a repository password or say where to find one. A child is
// someone else's code; what it prints may even be what gets backed up (`backup --stdin-from-command -- env`).
// Only password variables go: S3 credentials, the repository location and everything else stay, because hooks
// and dump commands legitimately need them. restic's password variables count too: the CLI reads them when ours
// are not set (cli/restic-env.ts).

/** Variables holding a repository password or naming where one is (file, command), for either repository of copy. */
export const PASSWORD_VARIABLES: readonly string[] = Object.freeze([
  'REPO_PASSWORD',
  'REPO_PASSWORD_FILE',
  'REPO_PASSWORD_COMMAND',
  'REPO_FROM_PASSWORD',
  'REPO_FROM_PASSWORD_FILE',
  'REPO_FROM_PASSWORD_COMMAND',
  'RESTIC_PASSWORD',
  'RESTIC_PASSWORD_FILE',
  'RESTIC_PASSWORD_COMMAND',
  'RESTIC_FROM_PASSWORD',
  'RESTIC_FROM_PASSWORD_FILE',
  'RESTIC_FROM_PASSWORD_COMMAND',
]);

/** A copy of `base` (default: this process's environment) without password variables, plus `extra`. */
export function childEnv(base: NodeJS.ProcessEnv = process.env, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of PASSWORD_VARIABLES) delete env[name];
  return Object.assign(env, extra);
}
