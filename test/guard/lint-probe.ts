// Deliberately wrong code that test/long/lint.test.ts lints to prove the rules fire. Never imported or run.

export async function answer(): Promise<number> {
  return 42;
}

export function probe(err: unknown): string {
  answer(); // a floating promise
  return (err as Error).message; // a raw message read outside the CLI's error printer
}
