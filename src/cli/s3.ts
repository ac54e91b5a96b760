// `repo s3 policy`: prints the least-privilege IAM policy for one role on a repository in S3 (stdout, JSON),
// and on stderr what IAM cannot enforce. Reads no credentials and contacts nothing.

import type { Command } from 'commander';
import { S3_POLICY_ROLES, s3Policy } from '../backend/s3-policy.js';
import { Env } from './context.js';

export function registerS3(program: Command): void {
  const s3 = program.command('s3').description('helpers for repositories in S3');
  s3.command('policy')
    .description('print the IAM policy JSON that gives a role exactly the rights it needs')
    .argument('<bucket[/prefix]>', 'the bucket and key prefix of the repository (an s3: location works too)')
    .requiredOption('--role <role>', `one of ${S3_POLICY_ROLES.join(', ')}`)
    .option('--partition <name>', 'ARN partition (aws, aws-cn, aws-us-gov)', 'aws')
    .addHelpText(
      'after',
      '\nbackup: read everything, create data/index/snapshots/locks/audit files, delete lock files.\n' +
        'restore: read only. admin: everything (init, forget, prune, key changes).\n' +
        'Example:\n  repo s3 policy --role backup my-bucket/laptop > backup-policy.json',
    )
    .action((target: string, flags: { role: string; partition: string }, c: Command) => {
      const env = Env.from(c);
      const r = s3Policy(flags.role, target, flags.partition);
      env.out.print(JSON.stringify(r.policy, null, 2));
      if (!env.out.quiet && !env.out.json) for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
    });
}
