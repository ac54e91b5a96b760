// TEST-ONLY crash points: named steps of backup and prune (and the index rewrite they share) where a test can make
// the process kill itself with SIGKILL, to prove that no instant between two steps leaves an existing snapshot
// unrestorable (test/long/crash-points.test.ts). Nothing happens unless BOTH variables are set:
//   REPO_TEST_ENABLE_CRASH_POINTS=1            the explicit opt-in, so a stray REPO_TEST_CRASH_AT alone does nothing
//   REPO_TEST_CRASH_AT=<step>[#<n>]            the step, and which occurrence of it (default the first)
// They are read once, at start-up; they are not documented for users and must never be set in production.

/** Every crash point, in the order a backup and then a prune reach them. */
export const CRASH_POINTS = [
  'pack-stored', // a pack file is stored; the index does not name it yet (backup, prune's repack)
  'index-written', // an index file naming stored packs is written (backup, prune's repack)
  'before-snapshot-write', // backup: every blob stored and indexed, snapshot not written
  'after-snapshot-write', // backup: snapshot written, the command not finished
  'before-old-index-delete', // index rewrite (prune, repair index): new index files written, old ones not removed
  'after-old-index-delete', // index rewrite: old index files removed
  'before-pack-delete', // prune: new index complete, no pack deleted
  'pack-deleted', // prune: one more pack deleted (use #n for the n-th)
  'after-pack-delete', // prune: every pack to delete is deleted
  'erase-keys-removed', // destroy --crypto-erase: every key file removed, the config and the rest not yet
  'migrate-before-config', // migrate: locked, the new config not written
  'migrate-after-config', // migrate: the new config written (the commit point passed), the lock still held
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

const target =
  process.env.REPO_TEST_ENABLE_CRASH_POINTS === '1' ? parseTarget(process.env.REPO_TEST_CRASH_AT) : undefined;
let seen = 0;

function parseTarget(v: string | undefined): { step: string; nth: number } | undefined {
  if (v === undefined || v === '') return undefined;
  const [step, nth] = v.split('#');
  return { step, nth: nth === undefined ? 1 : Number(nth) };
}

/** Kills this process with SIGKILL when the test variables name this step (and occurrence); otherwise nothing. */
export function crashPoint(step: CrashPoint): void {
  if (target === undefined || target.step !== step || ++seen !== target.nth) return;
  process.kill(process.pid, 'SIGKILL');
}
