#!/bin/bash
# PITR figures with real PostgreSQL (Debian's package): sustained wal push rate through --spool, dedupe of
# two successive base backups, RPO (age of the newest archived segment in `repo status`) and RTO (pg restore,
# then server start with replay to the end of the archive; table sums compared). Run as root after
# `npm run build`: bash bench/pg-pitr.sh (SCALE: pgbench scale, default 30; LOAD: seconds of pgbench load;
# ONLY_PUSH=1: stop after the wal push rate).
set -e
CLI=$(cd "$(dirname "$0")/.." && pwd)/dist/bundle/repo.js
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
D=${PITR_DIR:-/tmp/repo-pitr-bench}
# A previous run's pusher idles for 30 s: it would push into the new repository with the old key.
if [ -f $D/spool/pusher.pid ]; then kill "$(head -1 $D/spool/pusher.pid)" 2>/dev/null || true; sleep 1; fi
rm -rf $D; mkdir -p $D/sock; cd $D
echo 'rate secret' > pass; chmod 600 pass
cat > repo.yaml <<Y
profiles:
  db:
    repository: $D/repo
    password-file: $D/pass
    databases:
      - { type: postgresql, name: postgres, host: 127.0.0.1, port: 55433, user: backup, mode: physical }
Y
chown -R postgres:postgres $D
R="runuser -u postgres -- env HOME=$D REPO_CACHE_DIR=$D/cache TZ=UTC"
REPO="$R node $CLI"
$REPO -r $D/repo --password-file $D/pass init >/dev/null
$R $BIN/initdb -D $D/data -U backup --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
cat >> $D/data/postgresql.conf <<C
wal_level = replica
archive_mode = on
archive_command = 'node $CLI wal push --profile db --config $D/repo.yaml --spool $D/spool %p'
archive_timeout = 60
max_wal_size = 4GB
C
$R $BIN/pg_ctl -D $D/data -l $D/pg.log -o "-p 55433 -k $D/sock -c listen_addresses=127.0.0.1 -c fsync=off" -w start >/dev/null
P="$R $BIN/psql -X -At -h 127.0.0.1 -p 55433 -U backup -d postgres"
T0=$(date +%s.%N)
$R $BIN/pgbench -h 127.0.0.1 -p 55433 -U backup -i -s ${SCALE:-30} -q postgres 2>/dev/null
$P -c "select pg_switch_wal()" >/dev/null
T1=$(date +%s.%N)
gen=$($P -c "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'")
a0=$($P -c "select archived_count from pg_stat_archiver")
while [ "$($P -c "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'")" != 0 ]; do sleep 0.5; done
T2=$(date +%s.%N); a1=$($P -c "select archived_count from pg_stat_archiver"); f=$($P -c "select failed_count from pg_stat_archiver")
echo "pgbench -i: $(echo "$T1 - $T0" | bc) s; total archived $a1 (failed $f) in $(echo "$T2 - $T0" | bc) s from the start of pgbench = $(echo "scale=2; $a1 / ($T2 - $T0)" | bc) seg/s; backlog after pgbench: $gen ready, $a0 done; drained in $(echo "$T2 - $T1" | bc) s ($(echo "scale=2; ($a1 - $a0) / ($T2 - $T1)" | bc) seg/s); load $(cut -d' ' -f1-3 /proc/loadavg)"
# The pusher would idle 30 s more; a next run in the same directory must not meet it.
stop_pusher() { [ -f $D/spool/pusher.pid ] && kill "$(head -1 $D/spool/pusher.pid)" 2>/dev/null; true; }
if [ -n "$ONLY_PUSH" ]; then $R $BIN/pg_ctl -D $D/data -m fast -w stop >/dev/null; stop_pusher; exit 0; fi
for i in 1 2; do
  s=$(date +%s.%N); $REPO --json run --config $D/repo.yaml db > run$i.json 2>run$i.err || { cat run$i.err; exit 1; }
  e=$(date +%s.%N); echo "base backup $i: $(echo "$e - $s" | bc) s"
done
$REPO --json -r $D/repo --password-file $D/pass snapshots --path /postgresql-postgres.basebackup.tar | node -e '
const s=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const x of s)console.log("base", x.short_id, "processed", (x.summary.total_bytes_processed/1048576).toFixed(1),"MiB added", (x.summary.data_added/1048576).toFixed(1),"MiB stored", (x.summary.data_added_packed/1048576).toFixed(1),"MiB")'
$R $BIN/pgbench -h 127.0.0.1 -p 55433 -U backup -T ${LOAD:-20} -c 2 postgres >/dev/null 2>&1
$P -c "select pg_switch_wal()" >/dev/null; sleep 1
while [ "$($P -c "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'")" != 0 ]; do sleep 0.5; done
SUM=$($P -c "select sum(abalance) || '/' || count(*) from pgbench_accounts")
$REPO --json status --config $D/repo.yaml db | node -e '
const s=JSON.parse(require("fs").readFileSync(0,"utf8")).profiles[0];console.log("status: wal newest", s.wal.newest, "age", s.wal.age_seconds.toFixed(1), "s (RPO); replay", s.wal.replay_segments, "segments; gaps", s.wal.gaps.length)'
$REPO wal status --profile db --config $D/repo.yaml
$REPO -r $D/repo --password-file $D/pass check | tail -3
$R $BIN/pg_ctl -D $D/data -m fast -w stop >/dev/null
s=$(date +%s.%N)
$REPO pg restore --profile db --config $D/repo.yaml --into $D/restored >/dev/null
m=$(date +%s.%N)
$R $BIN/pg_ctl -D $D/restored -l $D/restored.log -o "-p 55434 -k $D/sock -c listen_addresses=127.0.0.1 -c archive_mode=off" -w -t 600 start >/dev/null
P2="$R $BIN/psql -X -At -h 127.0.0.1 -p 55434 -U backup -d postgres"
until [ "$($P2 -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ]; do sleep 0.2; done
e=$(date +%s.%N)
SUM2=$($P2 -c "select sum(abalance) || '/' || count(*) from pgbench_accounts")
echo "RTO: pg restore $(echo "$m - $s" | bc) s + start and replay $(echo "$e - $m" | bc) s; sums $SUM vs $SUM2; replayed $(grep -c 'restored log file' $D/restored.log) files"
$R $BIN/pg_ctl -D $D/restored -m immediate -w stop >/dev/null
# The recovery above measured the replay rate (its wal fetch calls, ops/pg-replay-rate.ts); status's RTO uses it.
$REPO --json status --config $D/repo.yaml --metrics-file $D/metrics.prom db | node -e '
const r=JSON.parse(require("fs").readFileSync(0,"utf8")).profiles[0].restore||{};console.log("status RTO: replay rate", ((r.replay_bytes_per_second||0)/1048576).toFixed(1), "MiB/s (measured", r.replay_rate_from, "), WAL replay", (r.replay_seconds||0).toFixed(1), "s; estimate", r.estimated_seconds === undefined ? "unknown (no check measured a read rate)" : r.estimated_seconds.toFixed(1) + " s")'
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
stop_pusher
