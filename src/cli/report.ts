// `repo report --html FILE [--since DURATION]`: one self-contained HTML file (chart library, script and data
// inlined; it opens offline) with the UI's plots and the health summary, for a mail or a CI artifact.
// Read-only on the repository; the file is written through a temporary name, fsync and rename.

import type { Command } from 'commander';
import { RepoError } from '../core/errors.js';
import { parseElapsed } from '../core/units.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { reportHtml } from '../ui/page.js';
import { plotData } from '../ui/plot-data.js';
import { Env, withRepository } from './context.js';
import { formatBytes } from './format.js';
import { profilesOf } from './ui.js';

interface ReportFlags {
  html?: string;
  since?: string;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML report with the plots and the health summary')
    .option('--html <file>', 'write the report to this file')
    .option('--since <duration>', 'only snapshots, checks and analyze runs of this last period, e.g. 30d or 12w')
    .action((flags: ReportFlags, c: Command) => runReport(Env.from(c), flags));
}

async function runReport(env: Env, flags: ReportFlags): Promise<void> {
  if (flags.html === undefined || flags.html === '')
    throw new RepoError('INVALID_ARGUMENT', 'give the file to write: repo report --html FILE');
  const now = new Date();
  const since = flags.since === undefined ? undefined : new Date(now.getTime() - parseElapsed(flags.since, '--since'));
  const data = await withRepository(env, { workers: 0 }, (repo) =>
    plotData(repo, { now, since, profiles: profilesOf(env) }),
  );
  const html = reportHtml(data);
  await writeFileAtomic(flags.html, html, { mode: 0o644, makeDir: true });
  if (env.out.json)
    env.out.printJson({
      message_type: 'report',
      file: flags.html,
      bytes: Buffer.byteLength(html),
      snapshots: data.snapshots.time.length,
      findings: data.health.findings,
    });
  else
    env.out.info(
      `wrote ${flags.html} (${formatBytes(Buffer.byteLength(html))}): ${data.snapshots.time.length} snapshots, ${data.health.findings.length} findings`,
    );
}
