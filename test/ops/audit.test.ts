// The audit log: entries chain to the heads they follow; a removed or altered entry is detected, a fork
// from concurrent appends is not a problem and is merged by the next append; the CLI records operations.

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  acknowledgeAuditProblems,
  appendAudit,
  matchesAudit,
  readAuditLog,
  verifyAuditLog,
  type AuditRepo,
} from '../../src/ops/audit.js';
import { sanitizeArgs } from '../../src/cli/audit-hook.js';
import { runCli } from '../helpers/cli.js';
import { memoryRepo, tempDir } from '../helpers/repo.js';

const rec = (operation: string) => ({ operation, result: 'success' as const });

describe('audit log', () => {
  it('chains entries and lists them in order', async () => {
    const { repo } = await memoryRepo();
    const ids: string[] = [];
    for (const op of ['init', 'backup', 'forget', 'prune'])
      ids.push(await appendAudit(repo, rec(op), { stateDir: null }));
    const log = await readAuditLog(repo, { stateDir: null });
    expect(log.entries.map((e) => e.operation)).toEqual(['init', 'backup', 'forget', 'prune']);
    expect(log.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(log.entries[0].prev).toEqual([]);
    expect(log.entries[2].prev).toEqual([ids[1]]);
    expect(log.heads).toEqual([ids[3]]);
    expect(log.problems).toEqual([]);
    expect(log.entries.filter((e) => matchesAudit(e, { operations: ['backup', 'prune'] })).length).toBe(2);
  });

  it('detects a removed entry', async () => {
    const { repo, backend } = await memoryRepo();
    const ids: string[] = [];
    for (const op of ['a', 'b', 'c']) ids.push(await appendAudit(repo, rec(op), { stateDir: null }));
    await backend.remove({ type: 'audit', name: ids[1] });
    const v = await verifyAuditLog(repo, { stateDir: null });
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      expect.objectContaining({ kind: 'audit-missing', entry: ids[1], file: `audit/${ids[1]}` }),
    ]);
    expect(v.problems[0].message).toMatch(/missing \(removed\)/);
  });

  it('turns acknowledged problems into notes; removing the acknowledgement brings them back', async () => {
    const { repo, backend } = await memoryRepo();
    const ids: string[] = [];
    for (const op of ['a', 'b', 'c']) ids.push(await appendAudit(repo, rec(op), { stateDir: null }));
    await backend.remove({ type: 'audit', name: ids[1] });
    expect(await acknowledgeAuditProblems(repo, { stateDir: null })).toEqual([ids[1]]);
    let v = await verifyAuditLog(repo, { stateDir: null });
    expect(v.ok).toBe(true);
    expect(v.notes.map((n) => n.kind)).toEqual(['audit-acknowledged']);
    const ack = (await readAuditLog(repo, { stateDir: null })).heads[0];
    await appendAudit(repo, rec('d'), { stateDir: null });
    await backend.remove({ type: 'audit', name: ack });
    v = await verifyAuditLog(repo, { stateDir: null });
    expect(v.problems.map((p) => p.entry).sort()).toEqual([ids[1], ack].sort());
  });

  it('detects an altered entry, also one stored again under its new hash', async () => {
    const { repo, backend } = await memoryRepo();
    const ids: string[] = [];
    for (const op of ['a', 'b', 'c']) ids.push(await appendAudit(repo, rec(op), { stateDir: null }));
    const bytes = await backend.load({ type: 'audit', name: ids[0] });
    bytes[bytes.length - 20] ^= 1;
    await backend.save({ type: 'audit', name: ids[0] }, bytes);
    let v = await verifyAuditLog(repo, { stateDir: null });
    expect(v.problems.map((p) => [p.kind, p.entry])).toEqual([['audit-damaged', ids[0]]]);
    // Renaming the altered file to its new hash hides nothing: it fails authentication, and its old id is missing.
    const { blake3 } = await import('../../src/crypto/blake3.js');
    await backend.remove({ type: 'audit', name: ids[0] });
    const renamed = blake3(bytes).toString('hex');
    await backend.save({ type: 'audit', name: renamed }, bytes);
    v = await verifyAuditLog(repo, { stateDir: null });
    expect(v.problems.map((p) => [p.kind, p.entry]).sort()).toEqual(
      [
        ['audit-damaged', renamed],
        ['audit-missing', ids[0]],
      ].sort(),
    );
  });

  it('detects removal of the newest entry through the entries this machine saw', async () => {
    const { repo, backend } = await memoryRepo();
    const stateDir = tempDir('repo-state-');
    const ids: string[] = [];
    for (const op of ['a', 'b', 'c']) ids.push(await appendAudit(repo, rec(op), { stateDir }));
    await backend.remove({ type: 'audit', name: ids[2] });
    expect((await verifyAuditLog(repo, { stateDir: null })).ok).toBe(true); // nothing refers to the newest entry…
    const v = await verifyAuditLog(repo, { stateDir }); // …but this machine wrote it
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'audit-missing', entry: ids[2] })]);
    expect((await verifyAuditLog(repo, { stateDir: null, known: [ids[2]] })).ok).toBe(false); // or anyone holding its id
  });

  it('treats concurrent appends as a fork that the next append merges', async () => {
    const { repo } = await memoryRepo();
    const first = await appendAudit(repo, rec('init'), { stateDir: null });
    // Two writers that both list the log before either stores its entry.
    let waiting: (() => void)[] = [];
    const gated: AuditRepo = {
      id: repo.id,
      listNames: (t) => repo.listNames(t),
      loadUnpacked: (t, n, a) => repo.loadUnpacked(t, n, a),
      saveUnpacked: async (t, p, a) => {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === 2) {
            for (const w of waiting) w();
            waiting = [];
          }
        });
        return repo.saveUnpacked(t, p, a);
      },
    };
    const [x, y] = await Promise.all([
      appendAudit(gated, rec('backup'), { stateDir: null }),
      appendAudit(gated, rec('backup'), { stateDir: null }),
    ]);
    let log = await readAuditLog(repo, { stateDir: null });
    expect(log.problems).toEqual([]);
    expect(log.heads).toEqual([x, y].sort());
    expect(log.notes.map((n) => n.kind)).toEqual(['audit-fork']);
    expect(log.entries.filter((e) => e.seq === 2).every((e) => e.prev[0] === first)).toBe(true);
    const merge = await appendAudit(repo, rec('forget'), { stateDir: null });
    log = await readAuditLog(repo, { stateDir: null });
    expect(log.heads).toEqual([merge]);
    expect(log.entries[log.entries.length - 1]).toMatchObject({ id: merge, seq: 3, prev: [x, y].sort() });
    expect(log.notes).toEqual([]);
  });

  it('never records secrets from the command line', () => {
    expect(
      sanitizeArgs(['-r', 's3:https://key:secret@host/b', 'backup', '--password-command=pass show x', '/home']),
    ).toEqual(['-r', '…', 'backup', '--password-command=…', '/home']);
    expect(sanitizeArgs(['backup', '--stdin-from-command', '--', 'pg_dump', 'postgres://u:pw@h/db'])).toEqual([
      'backup',
      '--stdin-from-command',
      '--',
      'pg_dump',
      '…',
    ]);
  });
});

describe('audit log via the CLI', () => {
  it('records backup, forget and restore; log filters them; log --verify detects a removed entry', async () => {
    const dir = tempDir('repo-audit-cli-');
    const repoDir = path.join(dir, 'repo');
    const env = { REPO_STATE_DIR: path.join(dir, 'state'), REPO_CACHE_DIR: path.join(dir, 'cache') };
    const cli = (...args: string[]) => runCli(['-r', repoDir, ...args], { env });
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'f'), 'data');
    expect((await cli('init')).code).toBe(0);
    expect((await cli('backup', path.join(dir, 'src'))).code).toBe(0);
    expect((await cli('backup', '--dry-run', path.join(dir, 'src'))).code).toBe(0); // not recorded: changes nothing
    expect((await cli('restore', 'latest', '--target', path.join(dir, 'out'))).code).toBe(0);
    expect((await cli('forget', '--keep-last', '1')).code).toBe(0);
    const list = await cli('log', '--json');
    expect(list.code).toBe(0);
    const entries = JSON.parse(list.out).entries as {
      id: string;
      operation: string;
      result: string;
      snapshots?: { added?: string[]; read?: string[] };
    }[];
    const ops = entries.map((e) => e.operation);
    expect(ops).toEqual(['init', 'backup', 'restore', 'forget']);
    const snap = entries.find((e) => e.operation === 'backup')!.snapshots!.added![0];
    expect(entries.find((e) => e.operation === 'restore')!.snapshots!.read).toEqual([snap]);
    const filtered = JSON.parse((await cli('log', '--json', '--snapshot', snap.slice(0, 8))).out).entries;
    expect(filtered.map((e: { operation: string }) => e.operation)).toEqual(['backup', 'restore']);
    expect((await cli('log', '--verify')).code).toBe(0);

    const middle = entries.find((e) => e.operation === 'restore')!.id;
    fs.rmSync(path.join(repoDir, 'audit', middle));
    const v = await cli('log', '--verify');
    expect(v.code).toBe(1);
    expect(v.out).toContain(`audit entry ${middle} is missing (removed)`);
    const chk = await cli('check');
    expect(chk.code).toBe(1);
    expect(chk.out).toContain(`audit entry ${middle} is missing (removed)`);
    expect((await cli('repair', 'audit')).code).toBe(0);
    expect((await cli('check')).code).toBe(0);
  });
});
