// Where a named restore point (pg_create_restore_point) lies in the archived WAL, so that `pg restore
// --target-name` can choose the newest base backup before it. PostgreSQL keeps no list of restore points:
// the only record is the XLOG_RESTORE_POINT WAL record, so the archived segments are read, newest first,
// until one holds it. Default sizes are assumed (16 MiB segments, 8 KiB WAL pages), as elsewhere.

import type { Repository } from '../repository/repository.js';
import { listSnapshots } from '../snapshot/snapshot.js';
import type { ProfileConfig } from './config.js';
import { snapshotFileBytes, walSnapshots } from './pg-wal.js';

const SEGMENT = 16 * 1024 * 1024;
const PAGE = 8192;
/** XLogLongPageHeaderData at the start of a segment, XLogPageHeaderData (MAXALIGNed) on every other page. */
const LONG_HEADER = 40;
const SHORT_HEADER = 24;
/** XLogRecord: tot_len, xid, prev, info, rmid, 2 pad, crc. */
const RECORD_HEADER = 24;
const XLOG_RESTORE_POINT = 0x70;
/** xl_restore_point: rp_time (8 bytes) and rp_name[64], sent as a short main-data block of 72 bytes. */
const BLOCK_ID_DATA_SHORT = 0xff;
const RESTORE_POINT_SIZE = 72;

/** The page payloads of a segment concatenated, so a record that crosses a page boundary is contiguous. */
function withoutPageHeaders(seg: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let p = 0; p < seg.length; p += PAGE)
    parts.push(seg.subarray(p + (p === 0 ? LONG_HEADER : SHORT_HEADER), p + PAGE));
  return Buffer.concat(parts);
}

/** The segment offset of payload offset `d`. */
function segmentOffset(d: number): number {
  const first = PAGE - LONG_HEADER;
  if (d < first) return LONG_HEADER + d;
  const i = 1 + Math.floor((d - first) / (PAGE - SHORT_HEADER));
  return i * PAGE + SHORT_HEADER + (d - first - (i - 1) * (PAGE - SHORT_HEADER));
}

/** The LSN of the last XLOG_RESTORE_POINT record named `name` in one segment's bytes, if any. */
export function restorePointIn(seg: Buffer, segmentName: string, name: string): bigint | undefined {
  const body = withoutPageHeaders(seg);
  const needle = Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0])]);
  let found: number | undefined;
  for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + 1)) {
    const block = at - 10; // block id, length, rp_time
    const rec = block - RECORD_HEADER;
    if (rec < 0) continue;
    if (body[block] !== BLOCK_ID_DATA_SHORT || body[block + 1] !== RESTORE_POINT_SIZE) continue;
    if ((body[rec + 16] & 0xf0) !== XLOG_RESTORE_POINT || body[rec + 17] !== 0) continue;
    found = rec;
  }
  if (found === undefined) return undefined;
  const log = BigInt('0x' + segmentName.slice(8, 16));
  const segNo = BigInt('0x' + segmentName.slice(16, 24));
  return (log << 32n) + segNo * BigInt(SEGMENT) + BigInt(segmentOffset(found));
}

/** The LSN of the newest restore point named `name` in the profile's archived WAL (newest segment first). */
export async function findRestorePoint(
  repo: Repository,
  profile: ProfileConfig,
  name: string,
  signal?: AbortSignal,
): Promise<bigint | undefined> {
  const wal = walSnapshots(await listSnapshots(repo), profile);
  const segments = [...wal.keys()]
    .filter((n) => /^[0-9A-F]{24}$/.test(n))
    .sort((a, b) => (a.slice(8) < b.slice(8) ? 1 : -1));
  for (const seg of segments) {
    signal?.throwIfAborted();
    const parts: Buffer[] = [];
    for await (const b of snapshotFileBytes(repo, wal.get(seg)!)) parts.push(b);
    const lsn = restorePointIn(Buffer.concat(parts), seg, name);
    if (lsn !== undefined) return lsn;
  }
  return undefined;
}
