// `repo s3 policy`: the IAM documents are valid JSON policies with exactly the actions each role needs, scoped to
// the bucket and prefix; backup may put only new-file types and delete only locks; restore only reads.
import { describe, expect, it } from 'vitest';
import { s3Policy, type IamPolicy } from '../../src/backend/s3-policy.js';
import { runCli } from '../helpers/cli.js';

const WRITE_ACTIONS = ['s3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention'];

function actions(p: IamPolicy): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const s of p.Statement) for (const a of s.Action) m.set(a, [...(m.get(a) ?? []), ...s.Resource]);
  return m;
}

describe('s3 policy', () => {
  it('prints valid JSON for every role through the CLI, notes on stderr', async () => {
    for (const role of ['backup', 'restore', 'admin']) {
      const r = await runCli(['s3', 'policy', '--role', role, 'my-bucket/laptop/home']);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.out) as IamPolicy;
      expect(doc.Version).toBe('2012-10-17');
      expect(doc.Statement.length).toBeGreaterThan(1);
      for (const s of doc.Statement) {
        expect(s.Effect).toBe('Allow');
        expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/); // IAM allows only alphanumerics in a Sid
        for (const res of s.Resource) expect(res).toMatch(/^arn:aws:s3:::my-bucket(\/laptop\/home\/.*)?$/);
      }
      expect(r.stderr).toMatch(/^note: /);
    }
    const bad = await runCli(['s3', 'policy', '--role', 'root', 'b']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('backup: reads all, puts only data/index/snapshots/locks/audit, deletes only locks; says overwrite is not preventable', () => {
    const r = s3Policy('backup', 'bkt/p');
    const a = actions(r.policy);
    expect(a.get('s3:GetObject')).toEqual(['arn:aws:s3:::bkt/p/*']);
    expect(a.get('s3:ListBucket')).toEqual(['arn:aws:s3:::bkt']);
    const list = r.policy.Statement.find((s) => s.Action.includes('s3:ListBucket'))!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['p', 'p/*'] } });
    expect(a.get('s3:PutObject')!.sort()).toEqual(
      ['audit', 'data', 'index', 'locks', 'snapshots'].map((t) => `arn:aws:s3:::bkt/p/${t}/*`),
    );
    expect(a.get('s3:DeleteObject')).toEqual(['arn:aws:s3:::bkt/p/locks/*']);
    expect(a.has('s3:DeleteObjectVersion')).toBe(false);
    expect(a.has('s3:BypassGovernanceRetention')).toBe(false);
    expect(r.notes.join(' ')).toMatch(/cannot forbid overwriting.*versioning.*Object Lock/);
  });

  it('restore: read and list only; admin: everything under the prefix, no version deletion', () => {
    const restore = actions(s3Policy('restore', 's3:https://s3.amazonaws.com/bkt').policy);
    for (const w of WRITE_ACTIONS) expect(restore.has(w)).toBe(false);
    expect(restore.get('s3:GetObject')).toEqual(['arn:aws:s3:::bkt/*']);
    const admin = actions(s3Policy('admin', 'bkt/p', 'aws-cn').policy);
    expect(admin.get('s3:DeleteObject')).toEqual(['arn:aws-cn:s3:::bkt/p/*']);
    expect(admin.get('s3:PutObject')).toEqual(['arn:aws-cn:s3:::bkt/p/*']);
    expect(admin.has('s3:DeleteObjectVersion')).toBe(false);
  });
});
