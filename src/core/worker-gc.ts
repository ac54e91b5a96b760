// A full garbage collection on demand, for worker threads that handle one large buffer per job.
// A worker's heap is tiny, so V8 sees little reason to collect, while each finished job leaves a pack's
// worth of memory outside the heap; collecting after each job keeps a worker at about one pack.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
// A fresh context created after the flag is set has the gc() global.
export const collectGarbage = runInNewContext('gc') as () => void;
