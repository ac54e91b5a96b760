// The WAL part of `repo status` for a profile with a `mode: physical` PostgreSQL entry: the age of the
// newest archived segment is the RPO of continuous archiving (not the base backup's age), and the WAL a
// recovery from the newest base backup replays adds to the RTO. Reads only; never throws for a profile
// that archives nothing yet (then there is no WAL status and the base backup's age counts as before).

import { errorMessage } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import type { ProfileConfig } from './config.js';
import { walChain } from './pg-wal-chain.js';

/** PostgreSQL's default segment size: what one archived segment replays. */
const SEGMENT_BYTES = 16 * 1024 * 1024;

export interface WalStatus {
  segments: number;
  newest?: string;
  newestTime?: string;
  /** Age of the newest archived segment: the RPO of continuous archiving. */
  ageSeconds?: number;
  /** Missing segments after the oldest base backup's start (recovery cannot pass the first). */
  gaps: string[];
  /** Segments from the newest base backup's start to the newest segment, their stored bytes and WAL bytes. */
  replaySegments: number;
  replayStoredBytes: number;
  replayWalBytes: number;
  /** The paths of the base backups (their group's age is replaced by the WAL age for the RPO). */
  basePaths: string[];
  error?: string;
}

export function hasPhysicalDatabase(p: ProfileConfig): boolean {
  return p.databases.some((d) => d.type === 'postgresql' && d.mode === 'physical');
}

export async function walStatus(repo: Repository, p: ProfileConfig, now: Date): Promise<WalStatus | undefined> {
  const basePaths = p.databases
    .filter((d) => d.type === 'postgresql' && d.mode === 'physical')
    .map((d) => '/' + d.filename);
  try {
    const r = await walChain(repo, p, now);
    if (r.segments === 0) return undefined;
    return {
      segments: r.segments,
      newest: r.newest?.name,
      newestTime: r.newest?.time,
      ageSeconds: r.newest === undefined ? undefined : r.newest.ageMs / 1000,
      gaps: r.gaps,
      replaySegments: r.replay?.segments ?? r.segments,
      replayStoredBytes: r.replay?.storedBytes ?? 0,
      replayWalBytes: (r.replay?.segments ?? r.segments) * SEGMENT_BYTES,
      basePaths,
    };
  } catch (err) {
    return {
      segments: 0,
      gaps: [],
      replaySegments: 0,
      replayStoredBytes: 0,
      replayWalBytes: 0,
      basePaths,
      error: errorMessage(err),
    };
  }
}
