// The progress figures shown on a terminal and in --json status lines: percentages stay within 0-100 %,
// totals never fall below what is done, and no ETA or share is given before the totals are known.

import { describe, expect, it } from 'vitest';
import type { BackupProgress } from '../../src/archiver/index.js';
import {
  backupItemText,
  backupStatusJson,
  restoreStatusJson,
  snakeKeys,
  statusIntervalMs,
} from '../../src/cli/json-messages.js';
import { describeTransfer, etaSeconds, percent } from '../../src/cli/progress.js';

const progress = (p: Partial<BackupProgress>): BackupProgress => ({
  filesDone: 0,
  dirsDone: 0,
  bytesDone: 0,
  filesTotal: 0,
  bytesTotal: 0,
  scanDone: false,
  errors: 0,
  currentFiles: [],
  elapsedMs: 0,
  done: false,
  ...p,
});

describe('terminal progress', () => {
  it('percent is clamped to 0-100 % and 0 without a total', () => {
    expect(percent(50, 200)).toBe('25.00%');
    expect(percent(300, 200)).toBe('100.00%');
    expect(percent(5, 0)).toBe('0.00%');
  });

  it('ETA extrapolates the rate so far, and is absent with nothing done or nothing left', () => {
    expect(etaSeconds(10, 25, 100)).toBe(30);
    expect(etaSeconds(10, 0, 100)).toBeUndefined();
    expect(etaSeconds(10, 100, 100)).toBeUndefined();
  });

  it('a transfer line never shows more done than total', () => {
    const line = describeTransfer({
      label: 'restoring',
      seconds: 4,
      done: 7,
      total: 5,
      unit: 'files',
      bytesDone: 3 << 20,
      bytesTotal: 2 << 20,
    });
    expect(line).toBe('[0:04] restoring  100.00%  7 / 7 files  3.000 MiB / 3.000 MiB  768.000 KiB/s');
    expect(
      describeTransfer({
        label: 'reading packs',
        seconds: 10,
        workSeconds: 5,
        done: 1,
        total: 4,
        unit: 'packs',
        bytesDone: 1024,
        bytesTotal: 4096,
      }),
    ).toBe('[0:10] reading packs  25.00%  1 / 4 packs  1.000 KiB / 4.000 KiB  205 B/s  ETA 0:15');
  });
});

describe('--json status lines', () => {
  it('backup: no share or ETA until the scan has counted everything', () => {
    const s = backupStatusJson(
      progress({ filesDone: 3, bytesDone: 300, filesTotal: 10, bytesTotal: 1000, elapsedMs: 2500 }),
    );
    expect(s).toEqual({
      message_type: 'status',
      seconds_elapsed: 2,
      percent_done: 0,
      total_files: 10,
      files_done: 3,
      total_bytes: 1000,
      bytes_done: 300,
      error_count: 0,
      current_files: [],
    });
  });

  it('backup: by bytes once the totals are known, and totals never below what is done', () => {
    expect(
      backupStatusJson(
        progress({ filesDone: 3, bytesDone: 250, filesTotal: 10, bytesTotal: 1000, scanDone: true, elapsedMs: 5000 }),
      ),
    ).toMatchObject({
      percent_done: 0.25,
      seconds_remaining: 15,
    });
    const grown = backupStatusJson(
      progress({ filesDone: 12, bytesDone: 1500, filesTotal: 10, bytesTotal: 1000, scanDone: true, elapsedMs: 5000 }),
    );
    expect(grown).toMatchObject({ percent_done: 1, total_files: 12, total_bytes: 1500 });
    expect(
      backupStatusJson(
        progress({ filesDone: 12, bytesDone: 1500, filesTotal: 12, bytesTotal: 1500, scanDone: true, done: true }),
      ),
    ).toMatchObject({
      percent_done: 1,
      seconds_remaining: 0,
    });
  });

  it('restore: restic 0.17 keys, percent by bytes', () => {
    expect(restoreStatusJson({ filesTotal: 4, filesDone: 1, bytesTotal: 400, bytesDone: 100 }, 3.7)).toEqual({
      message_type: 'status',
      seconds_elapsed: 3,
      percent_done: 0.25,
      total_files: 4,
      files_restored: 1,
      total_bytes: 400,
      bytes_restored: 100,
    });
  });

  it('status lines per second come from REPO_PROGRESS_FPS or RESTIC_PROGRESS_FPS, at most 60', () => {
    expect(statusIntervalMs({})).toBe(1000);
    expect(statusIntervalMs({ RESTIC_PROGRESS_FPS: '4' })).toBe(250);
    expect(statusIntervalMs({ REPO_PROGRESS_FPS: '1000', RESTIC_PROGRESS_FPS: '4' })).toBe(17);
    expect(statusIntervalMs({ REPO_PROGRESS_FPS: 'fast' })).toBe(1000);
  });

  it("-v lines in restic's columns, and library results in snake_case", () => {
    expect(backupItemText({ action: 'modified', path: '/a/', type: 'dir' })).toBe('modified  /a/');
    expect(backupItemText({ action: 'new', path: '/a/b', type: 'file' })).toBe('new       /a/b');
    expect(snakeKeys({ indexFiles: 1, nested: [{ ageSeconds: 2 }], when: new Date(0) })).toEqual({
      index_files: 1,
      nested: [{ age_seconds: 2 }],
      when: new Date(0),
    });
  });
});
