// Environment variable names as POSIX shells and systemd accept them (`env:` keys of repo.yaml, env-file lines).
// Its own module so that reading an env file does not load the config schema (and zod) at start-up.

export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
