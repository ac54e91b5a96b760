// Scheduling with an injected clock: due runs, one catch-up run for any number of missed slots, backup
// windows, no two jobs on one repository, and the units for system schedulers.

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/ops/config.js';
import { latestSlot, nextSlot, Scheduler, type ScheduleSpec } from '../../src/ops/schedule.js';
import { parseWindow } from '../../src/ops/time.js';
import { cronToOnCalendar, crontabLines, systemdUnits } from '../../src/ops/units.js';
import { EXAMPLE } from './helpers.js';

/** A clock the test moves by hand (local time, like cron). */
function clock(start: Date) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d: Date) => {
      t = d.getTime();
    },
    add: (ms: number) => {
      t += ms;
    },
  };
}

const at = (h: number, m = 0, day = 10) => new Date(2025, 0, day, h, m, 0, 0); // 10 Jan 2025, local time
const names = (r: { start: { name: string }[] }) => r.start.map((s) => s.name);

describe('cron evaluation', () => {
  it('finds the newest slot at or before now and the next one after', () => {
    expect(latestSlot('0 * * * *', at(10, 0))).toEqual(at(10, 0));
    expect(latestSlot('0 * * * *', at(10, 59))).toEqual(at(10, 0));
    expect(nextSlot('0 * * * *', at(10, 0))).toEqual(at(11, 0));
    expect(nextSlot('30 2 * * *', at(10, 0))).toEqual(at(2, 30, 11));
  });
});

describe('Scheduler', () => {
  const hourly: ScheduleSpec = { name: 'home', cron: '0 * * * *', repositories: ['/srv/home'] };

  it('runs a profile at each slot, not before, and not twice for one slot', () => {
    const c = clock(at(9, 30));
    const s = new Scheduler([hourly], c.now);
    expect(names(s.due())).toEqual([]); // a new profile waits for its next slot
    expect(s.nextWakeup()).toEqual(at(10, 0));
    c.set(at(9, 59, 10));
    expect(names(s.due())).toEqual([]);
    c.set(at(10, 0));
    const first = s.due();
    expect(first.start).toEqual([{ name: 'home', slot: at(10, 0), catchUp: false }]);
    s.finish('home', 'success');
    c.add(5 * 60_000);
    expect(names(s.due())).toEqual([]);
    c.set(at(11, 0));
    expect(names(s.due())).toEqual(['home']);
  });

  it('catches up a run missed while down once, not once per missed slot', () => {
    const c = clock(at(15, 20));
    // the daemon last ran the 10:00 slot, then was down until 15:20: five slots were missed
    const s = new Scheduler([hourly], c.now, { home: { lastSlot: at(10, 0).toISOString() } });
    const r = s.due();
    expect(r.start).toEqual([{ name: 'home', slot: at(15, 0), catchUp: true }]);
    s.finish('home', 'success');
    c.add(60_000);
    expect(names(s.due())).toEqual([]);
    expect(s.nextWakeup()).toEqual(at(16, 0));
    expect(s.snapshot().home.lastSlot).toBe(at(15, 0).toISOString());
  });

  it('coalesces slots that pass while the job still runs into one run afterwards', () => {
    const c = clock(at(10, 0));
    const s = new Scheduler([hourly], c.now, { home: { lastSlot: at(9, 0).toISOString() } });
    expect(names(s.due())).toEqual(['home']);
    c.set(at(12, 30)); // a long job: the 11:00 and 12:00 slots pass
    const r = s.due();
    expect(r.start).toEqual([]);
    expect(r.waiting).toEqual([{ name: 'home', slot: at(12, 0), reason: 'running' }]);
    s.finish('home', 'success');
    expect(s.due().start).toEqual([{ name: 'home', slot: at(12, 0), catchUp: true }]);
    s.finish('home', 'success');
    expect(names(s.due())).toEqual([]);
  });

  it('starts a job only inside its window, and a due run waits for the window to open', () => {
    const nightly: ScheduleSpec = {
      name: 'db',
      cron: '0 1 * * *',
      window: parseWindow('02:00-06:00'),
      repositories: ['/srv/db'],
    };
    const c = clock(at(0, 30));
    const s = new Scheduler([nightly], c.now);
    c.set(at(1, 0));
    const r = s.due();
    expect(r.start).toEqual([]);
    expect(r.waiting).toEqual([{ name: 'db', slot: at(1, 0), reason: 'window', until: at(2, 0) }]);
    expect(s.nextWakeup()).toEqual(at(2, 0));
    c.set(at(2, 0));
    expect(s.due().start).toEqual([{ name: 'db', slot: at(1, 0), catchUp: true }]);
  });

  it('handles windows across midnight', () => {
    const w = parseWindow('22:00-04:00');
    const spec: ScheduleSpec = { name: 'n', cron: '0 * * * *', window: w, repositories: ['/r'] };
    const c = clock(at(20, 30));
    const s = new Scheduler([spec], c.now);
    c.set(at(21, 0));
    expect(s.due().waiting[0]).toMatchObject({ reason: 'window', until: at(22, 0) });
    c.set(at(23, 0));
    expect(names(s.due())).toEqual(['n']);
    s.finish('n', 'success');
    c.set(at(3, 0, 11));
    expect(names(s.due())).toEqual(['n']);
    s.finish('n', 'success');
    c.set(at(5, 0, 11));
    expect(names(s.due())).toEqual([]);
  });

  it('never runs two jobs on one repository at once; the second starts when the first finishes', () => {
    const a: ScheduleSpec = { name: 'a', cron: '0 * * * *', repositories: ['/srv/shared'] };
    const b: ScheduleSpec = { name: 'b', cron: '0 * * * *', repositories: ['/srv/offsite', '/srv/shared'] };
    const other: ScheduleSpec = { name: 'other', cron: '0 * * * *', repositories: ['/srv/other'] };
    const c = clock(at(9, 30));
    const s = new Scheduler([a, b, other], c.now);
    c.set(at(10, 0));
    const r = s.due();
    expect(names(r).sort()).toEqual(['a', 'other']);
    expect(r.waiting).toEqual([{ name: 'b', slot: at(10, 0), reason: 'repository-busy' }]);
    c.add(10 * 60_000);
    expect(names(s.due())).toEqual([]); // a still runs
    s.finish('a', 'success');
    expect(s.due().start).toEqual([{ name: 'b', slot: at(10, 0), catchUp: true }]);
    expect(s.runningJobs.sort()).toEqual(['b', 'other']);
  });
});

describe('units for system schedulers', () => {
  it("translates cron expressions to systemd OnCalendar, keeping cron's day-of-month OR weekday rule", () => {
    expect(cronToOnCalendar('0 * * * *')).toEqual(['*-*-* *:00:00']);
    expect(cronToOnCalendar('30 2 * * *')).toEqual(['*-*-* 02:30:00']);
    expect(cronToOnCalendar('*/15 9-17 * * 1-5')).toEqual([
      'Mon,Tue,Wed,Thu,Fri *-*-* 09,10,11,12,13,14,15,16,17:00,15,30,45:00',
    ]);
    expect(cronToOnCalendar('0 3 1 * 0')).toEqual(['*-*-01 03:00:00', 'Sun *-*-* 03:00:00']);
  });

  it('prints a service and timer per scheduled profile, and crontab lines', () => {
    const config = parseConfig(EXAMPLE, '/etc/repo/repo.yaml');
    const profiles = [...config.profiles.values()];
    const o = {
      node: '/usr/bin/node',
      cli: '/opt/repo/dist/cli/main.js',
      configFile: '/etc/repo/repo.yaml',
      lockDir: '/run/lock',
    };
    const units = systemdUnits(profiles, o);
    expect(units).toContain('# file: /etc/systemd/system/repo-home.service');
    expect(units).toContain('# file: /etc/systemd/system/repo-postgres.timer');
    expect(units).toContain('OnCalendar=*-*-* 02:30:00');
    expect(units).toContain('Persistent=true');
    expect(units).toMatch(
      /ExecStart=\/usr\/bin\/flock \/run\/lock\/repo-[0-9a-f]{16}\.lock \/usr\/bin\/node \/opt\/repo\/dist\/cli\/main\.js run --config \/etc\/repo\/repo\.yaml --only-in-window home/,
    );
    const cron = crontabLines(profiles, o);
    expect(cron).toMatch(
      /^30 2 \* \* \* \/usr\/bin\/flock .* run --config \/etc\/repo\/repo\.yaml --only-in-window postgres/m,
    );
    expect(cron).toMatch(/^0 \* \* \* \* .*--only-in-window home/m);
  });
});
