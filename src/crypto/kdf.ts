// Password-based key derivation (scrypt: its lanes on two threads, or node:crypto's) plus calibration and
// validation of its parameters. Must never accept unvalidated cost parameters from a key file (memory/CPU
// exhaustion) or log a password.

import { scrypt } from 'node:crypto';
import { FormatError, RepoError } from '../core/errors.js';
import { laneThreads, scryptLanes, type LaneThreads } from './scrypt-lanes.js';

export type { LaneThreads } from './scrypt-lanes.js';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

export const DERIVED_KEY_LENGTH = 32;
/** Shorter salts make precomputation across repositories cheaper; every salt we generate is longer. */
export const MIN_SALT_LENGTH = 16;

const MIN_LOG_N = 10;
const MAX_LOG_N = 22;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY = 1024 * 1024 * 1024;
const MAXMEM_HEADROOM = 1024 * 1024;

const CALIBRATE_MIN_N = 2 ** 14;
const CALIBRATE_MAX_N = 2 ** 15;
const CALIBRATE_R = 8;
const CALIBRATE_P = 1;

/**
 * For tests only: cheap enough to run hundreds of times, far too weak to protect a real repository.
 * Never write these parameters into a real key file.
 */
export const CHEAP_TEST_SCRYPT: ScryptParams = Object.freeze({ N: 1024, r: 8, p: 1 });

/** Bytes scrypt needs for these parameters, by the conservative 128·N·r·p bound. */
export function scryptMemory(params: ScryptParams): number {
  return 128 * params.N * params.r * params.p;
}

/**
 * Throws FormatError unless the parameters are ones this program would ever write or accept: a key file
 * is untrusted input, and a hostile N or r could otherwise exhaust memory or stall the program.
 */
export function validateScryptParams(params: unknown): asserts params is ScryptParams {
  if (typeof params !== 'object' || params === null) throw new FormatError('scrypt parameters are missing');
  const { N, r, p } = params as Record<string, unknown>;
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
  if (!isInt(N) || N < 2 ** MIN_LOG_N || N > 2 ** MAX_LOG_N || (N & (N - 1)) !== 0) {
    throw new FormatError(`scrypt N must be a power of two between 2^${MIN_LOG_N} and 2^${MAX_LOG_N}`, {
      N: String(N),
    });
  }
  if (!isInt(r) || r < 1 || r > MAX_R)
    throw new FormatError(`scrypt r must be an integer from 1 to ${MAX_R}`, { r: String(r) });
  if (!isInt(p) || p < 1 || p > MAX_P)
    throw new FormatError(`scrypt p must be an integer from 1 to ${MAX_P}`, { p: String(p) });
  if (scryptMemory({ N, r, p }) > MAX_MEMORY) {
    throw new FormatError('scrypt parameters need more than 1 GiB of memory', { N, r, p });
  }
}

function runScrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams, keyLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      keyLength,
      { N: params.N, r: params.r, p: params.p, maxmem: scryptMemory(params) + MAXMEM_HEADROOM },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

let lanesFailed = false;

/**
 * A 32-byte key from a password. The password is NFC-normalised first (RFC 8265) so the same typed
 * password opens the repository whichever OS or input method composed its characters. With p ≥ 2 lanes and
 * two cores, the lanes run on two threads (scrypt-lanes.ts): the same key in about 4/7 of the time at p = 7.
 * With `threads.callerBusy()` true at the start, node:crypto's one thread derives it: the caller's thread has
 * work meanwhile, and a lane thread on its core slowed both (unchanged kernel re-backup +6 %).
 */
export async function deriveKey(
  password: string,
  salt: Uint8Array,
  params: ScryptParams,
  threads: LaneThreads = {},
): Promise<Buffer> {
  if (typeof password !== 'string') throw new RepoError('INVALID_ARGUMENT', 'password must be a string');
  if (!(salt instanceof Uint8Array) || salt.byteLength < MIN_SALT_LENGTH) {
    throw new RepoError('INVALID_ARGUMENT', `scrypt salt must be at least ${MIN_SALT_LENGTH} bytes`);
  }
  validateScryptParams(params);
  const pw = Buffer.from(password.normalize('NFC'), 'utf8');
  try {
    if (laneThreads(params.p) >= 2 && threads.callerBusy?.() !== true && !lanesFailed) {
      try {
        return await scryptLanes(pw, salt, params, DERIVED_KEY_LENGTH, threads);
      } catch {
        // A thread that cannot start or reserve its WebAssembly memory: under `ulimit -v` of 16 GB V8 could not
        // reserve a module's memory (it sets aside address space far beyond what is used). The same key from
        // node:crypto, one lane after another, from now on in this process (a failed try cost about 0.1 s).
        lanesFailed = true;
      }
    }
    return await runScrypt(pw, salt, params, DERIVED_KEY_LENGTH);
  } finally {
    pw.fill(0);
  }
}

async function timeScrypt(N: number, p = CALIBRATE_P): Promise<number> {
  const started = process.hrtime.bigint();
  await runScrypt(
    Buffer.from('calibration'),
    Buffer.alloc(MIN_SALT_LENGTH),
    { N, r: CALIBRATE_R, p },
    DERIVED_KEY_LENGTH,
  );
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * The number of lanes (p, 1..16) whose derivation takes at least `targetMs`, from the times of one and of two
 * lanes at the chosen N. A derivation costs a fixed part once (faulting in its fresh 128·N·r-byte table:
 * OpenSSL allocates it per call, and the allocator maps and returns it each time) plus the same time per lane;
 * on a virtual machine with slow page faults the fixed part is most of one lane's time (measured: N = 2^15,
 * r = 8: 150 ms for one lane, 206 for two, 320 for four). Scaling the one-lane time chose p = 4 there, a
 * derivation of 320 ms against a 500 ms target (restic chose p = 8 on the same machine).
 */
export function lanesForTarget(oneLaneMs: number, twoLanesMs: number, targetMs: number): number {
  // Two lanes measured no slower than one is noise: count every lane at the one-lane time (no fixed part).
  const laneMs = Math.max(twoLanesMs > oneLaneMs ? twoLanesMs - oneLaneMs : oneLaneMs, 0.001);
  const fixedMs = Math.max(oneLaneMs - laneMs, 0);
  let p = CALIBRATE_P;
  while (p < MAX_P && fixedMs + p * laneMs < targetMs) p++;
  return p;
}

/**
 * Picks r = 8, the smallest N in 2^14..2^15 whose one-lane derivation takes at least `targetMs` here (only
 * N = 2^14 is run for that; larger N are extrapolated linearly, which if anything underestimates, as big N fall
 * out of cache), and then the lanes p that bring a whole derivation at that N to the target (lanesForTarget).
 */
export async function calibrateScrypt(targetMs = 500): Promise<ScryptParams> {
  if (!(targetMs >= 0) || !Number.isFinite(targetMs))
    throw new RepoError('INVALID_ARGUMENT', 'targetMs must be a finite number ≥ 0');
  // The first call pays for thread-pool start-up; it must not be counted as scrypt cost.
  await timeScrypt(2 ** MIN_LOG_N);
  const best = async (N: number, p: number) => Math.min(await timeScrypt(N, p), await timeScrypt(N, p));
  const probeMs = await best(CALIBRATE_MIN_N, 1);
  const msPerN = Math.max(probeMs, 0.001) / CALIBRATE_MIN_N;
  let N = CALIBRATE_MIN_N;
  while (N < CALIBRATE_MAX_N && N * msPerN < targetMs) N *= 2;
  // Memory is capped at 32 MiB (N = 2^15 with r = 8, restic's choice too): every command derives the key
  // once, and its memory is the largest part of a small command's peak RSS (64 MiB at N = 2^16 put
  // `repo snapshots` at twice restic's). Time beyond that comes from p, which costs CPU but no memory.
  const oneLaneMs = N === CALIBRATE_MIN_N ? probeMs : await best(N, 1);
  const p = oneLaneMs >= targetMs ? CALIBRATE_P : lanesForTarget(oneLaneMs, await best(N, 2), targetMs);
  const params = { N, r: CALIBRATE_R, p };
  validateScryptParams(params);
  return params;
}
