// Which archived WAL the kept base backups need, whether that chain has gaps, and how old the newest
// segment is (the RPO of continuous archiving). A base backup's first needed segment is read from the
// `backup_label` member at the start of its pg_basebackup tar, so no clock comparison is involved.

import { RepoError } from '../core/errors.js';
import type { Repository } from '../repository/repository.js';
import { listSnapshots, type StoredSnapshot } from '../snapshot/snapshot.js';
import type { ProfileConfig } from './config.js';
import { baseBackups } from './pg-restore.js';
import { snapshotFileBytes, WAL_TAG, walSnapshots, walSnapshotsOfHost } from './pg-wal.js';

/** How far into a base backup tar backup_label is looked for (PostgreSQL sends it first). */
const LABEL_SCAN_LIMIT = 4 * 1024 * 1024;

/** The segment named in backup_label's "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)". */
export async function baseStartSegment(repo: Repository, base: StoredSnapshot): Promise<string> {
  let buf = Buffer.alloc(0);
  let at = 0;
  for await (const b of snapshotFileBytes(repo, base)) {
    buf = Buffer.concat([buf, b]);
    while (at + 512 <= buf.length) {
      const header = buf.subarray(at, at + 512);
      if (header.every((x) => x === 0)) break;
      const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
      const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
      if (name === 'backup_label' || name === './backup_label') {
        if (at + 512 + size > buf.length) break; // its content is in the next blob
        const text = buf.subarray(at + 512, at + 512 + size).toString('utf8');
        const m = /START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)/.exec(text);
        if (m === null)
          throw new RepoError('FORMAT', `base backup ${base.id.slice(0, 8)}: backup_label has no START WAL LOCATION`, {
            snapshot: base.id,
          });
        return m[1];
      }
      at += 512 + Math.ceil(size / 512) * 512;
    }
    if (buf.length > LABEL_SCAN_LIMIT) break;
  }
  throw new RepoError('FORMAT', `base backup ${base.id.slice(0, 8)}: no backup_label at the start of its tar`, {
    snapshot: base.id,
  });
}

/** A segment's position regardless of timeline: log * 2^32 / segment size + seg, as a bigint of its 16 hex digits. */
function position(name: string): bigint {
  return BigInt('0x' + name.slice(8, 16)) * 0x100n + BigInt('0x' + name.slice(16, 24));
}

export interface WalChainReport {
  segments: number;
  newest?: { name: string; time: string; ageMs: number };
  /** The first segment the oldest base backup needs. */
  oldestNeeded?: string;
  /** Segment positions between oldestNeeded and the newest segment with no archived file on any timeline. */
  gaps: string[];
  /** WAL snapshots no kept base backup needs (before oldestNeeded; history files are always kept). */
  unneeded: StoredSnapshot[];
  /** What recovery from the newest base backup to the newest segment replays (for the RTO estimate). */
  replay?: { base: StoredSnapshot; fromSegment: string; segments: number; storedBytes: number };
}

/**
 * The chain report for a profile (16 MiB segments, PostgreSQL's default: 256 segments per log id).
 * Without a base backup nothing is unneeded: WAL is never given up before a base backup exists.
 */
export async function walChain(repo: Repository, profile: ProfileConfig, now = new Date()): Promise<WalChainReport> {
  const bases: StoredSnapshot[] = [];
  for (const db of profile.databases.filter((d) => d.type === 'postgresql' && d.mode === 'physical'))
    bases.push(...(await baseBackups(repo, profile, db)));
  return chainReport(repo, walSnapshots(await listSnapshots(repo), profile), bases, now);
}

/** Where pg_basebackup streams of a `mode: physical` entry are stored (spec §16): "/postgresql-NAME.basebackup.tar". */
const BASE_PATH = /^\/postgresql-.+\.basebackup\.tar$/;

/**
 * The chain of every host that archives WAL into this repository, for `check`, which knows no profile:
 * each host's WAL snapshots against the base backups of the same host.
 */
export async function repositoryWalChains(
  repo: Repository,
  all: StoredSnapshot[],
  now = new Date(),
): Promise<{ host: string; report: WalChainReport }[]> {
  const hosts = [...new Set(all.filter((sn) => sn.tags.includes(WAL_TAG)).map((sn) => sn.hostname))].sort();
  const out: { host: string; report: WalChainReport }[] = [];
  for (const host of hosts) {
    const bases = all.filter((sn) => sn.hostname === host && sn.paths.length === 1 && BASE_PATH.test(sn.paths[0]));
    out.push({ host, report: await chainReport(repo, walSnapshotsOfHost(all, host), bases, now) });
  }
  return out;
}

function formatPosition(p: bigint): string {
  return `${(p >> 8n).toString(16).toUpperCase().padStart(8, '0')}${(p & 0xffn).toString(16).toUpperCase().padStart(8, '0')}`;
}

async function chainReport(
  repo: Repository,
  wal: Map<string, StoredSnapshot>,
  bases: StoredSnapshot[],
  now: Date,
): Promise<WalChainReport> {
  const segs = [...wal.keys()]
    .filter((n) => /^[0-9A-F]{24}$/.test(n))
    .sort((a, b) => (position(a) < position(b) ? -1 : position(a) > position(b) ? 1 : 0));
  const report: WalChainReport = { segments: segs.length, gaps: [], unneeded: [] };
  if (segs.length > 0) {
    const newest = wal.get(segs[segs.length - 1])!;
    report.newest = {
      name: segs[segs.length - 1],
      time: newest.time,
      ageMs: now.getTime() - new Date(newest.time).getTime(),
    };
  }
  let oldestStart: string | undefined;
  let newestBase: { base: StoredSnapshot; start: string } | undefined;
  for (const b of bases) {
    const s = await baseStartSegment(repo, b);
    if (oldestStart === undefined || position(s) < position(oldestStart)) oldestStart = s;
    if (newestBase === undefined || position(s) > position(newestBase.start)) newestBase = { base: b, start: s };
  }
  if (oldestStart === undefined || newestBase === undefined) return report;
  report.oldestNeeded = oldestStart;
  const present = new Set(segs.map(position));
  const first = position(oldestStart);
  const last = segs.length > 0 ? position(segs[segs.length - 1]) : first - 1n;
  for (let p = first; p <= last && report.gaps.length < 100; p++) {
    if (!present.has(p)) report.gaps.push(formatPosition(p));
  }
  for (const [name, sn] of wal) {
    if (name.endsWith('.history')) continue;
    if (position(name.slice(0, 24)) < first) report.unneeded.push(sn);
  }
  const replay = segs.filter((n) => position(n) >= position(newestBase.start));
  report.replay = {
    base: newestBase.base,
    fromSegment: newestBase.start,
    segments: replay.length,
    storedBytes: replay.reduce((n, name) => n + (wal.get(name)!.summary?.data_added_packed ?? 0), 0),
  };
  return report;
}
