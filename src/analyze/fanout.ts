// Feeds one sequence of pieces (a file read once) to several consumers, e.g. one chunker per setting.
// Must never pull a piece from the source twice, nor let a fast consumer run unboundedly ahead of the slowest.

/** Per-consumer iterables over the same pieces. The source is read once, lazily, by whichever consumer needs the next piece first. */
export function fanOut(
  source: AsyncIterable<Uint8Array>,
  consumers: number,
  maxAhead = 4,
): AsyncIterable<Uint8Array>[] {
  const it = source[Symbol.asyncIterator]();
  const pos: number[] = new Array(consumers).fill(0);
  let buffered: Uint8Array[] = [];
  let base = 0; // index of buffered[0] in the whole sequence
  let ended = false;
  let failed: { err: unknown } | undefined;
  let fetching: Promise<void> | undefined;
  let waiters: (() => void)[] = [];

  const slowest = () => Math.min(...pos);
  const wakeAll = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const trim = () => {
    const drop = Math.min(slowest(), base + buffered.length) - base;
    if (drop > 0) {
      buffered = buffered.slice(drop);
      base += drop;
    }
  };
  const fetch = async () => {
    try {
      const r = await it.next();
      if (r.done) ended = true;
      else buffered.push(r.value);
    } catch (err) {
      failed = { err };
    } finally {
      fetching = undefined;
    }
  };
  // A consumer that stops (finished, broke off or failed) no longer holds pieces back.
  const leave = (i: number) => {
    pos[i] = Infinity;
    trim();
    wakeAll();
    if (pos.every((p) => p === Infinity) && !ended) void Promise.resolve(it.return?.()).catch(() => undefined);
  };

  const next = async (i: number): Promise<IteratorResult<Uint8Array>> => {
    const p = pos[i];
    while (p - slowest() >= maxAhead) await new Promise<void>((r) => waiters.push(r));
    while (p >= base + buffered.length) {
      if (failed) throw failed.err;
      if (ended) return { done: true, value: undefined };
      fetching ??= fetch();
      await fetching;
    }
    const piece = buffered[p - base];
    pos[i] = p + 1;
    trim();
    wakeAll();
    return { done: false, value: piece };
  };

  return Array.from({ length: consumers }, (_, i) => ({
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      return {
        next: async () => {
          try {
            const r = await next(i);
            if (r.done) leave(i);
            return r;
          } catch (err) {
            leave(i);
            throw err;
          }
        },
        return: async () => {
          leave(i);
          return { done: true, value: undefined };
        },
      };
    },
  }));
}
