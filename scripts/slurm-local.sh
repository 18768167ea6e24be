#!/usr/bin/env bash
# slurm-local.sh - a real one-node Slurm cluster on 127.0.0.1, with job
# accounting (slurmdbd on a private MariaDB, so `sacct` works), for testing
# `sweep slurm` / `sweep collect` end to end (CI and developer machines).
#
# Usage (as root; Debian/Ubuntu packages, no systemd needed):
#   scripts/slurm-local.sh install            # apt-get the daemons if missing
#   eval "$(scripts/slurm-local.sh start DIR)" # start; exports SLURM_CONF
#   scripts/slurm-local.sh status [DIR]       # sinfo + squeue
#   scripts/slurm-local.sh stop DIR           # shut the daemons down
#
# `start` prints exactly one line on stdout, `export SLURM_CONF=DIR/slurm.conf`;
# progress and diagnostics go to stderr. Everything the cluster writes (state,
# logs, spool, pid files, the database) lives under DIR, so several clusters
# can coexist as long as they use different ports. Environment knobs for `start`:
#   CTLD_PORT (6817)  SLURMD_PORT (6818)  DBD_PORT (6819)  DB_PORT (3306)
#   NODE (localnode)  CPUS (nproc)  ACCOUNTING (1; 0 runs without slurmdbd)
#   MAX_ARRAY_SIZE (1001, Slurm's default; small values test array splitting)
# The node has the feature `local` (for `--constraint=local`); root has the
# account `tests` (for `--account=tests`).
#
# Authentication is auth/none and the database password is fixed: acceptable
# only because every daemon listens on 127.0.0.1 of a throw-away single-user
# machine. Never use this configuration elsewhere.
set -euo pipefail

NODE=${NODE:-localnode}
CTLD_PORT=${CTLD_PORT:-6817}
SLURMD_PORT=${SLURMD_PORT:-6818}
DBD_PORT=${DBD_PORT:-6819}
DB_PORT=${DB_PORT:-3306}
ACCOUNTING=${ACCOUNTING:-1}
MAX_ARRAY_SIZE=${MAX_ARRAY_SIZE:-1001}

log() { printf 'slurm-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

cmd_install() {
  if command -v slurmctld >/dev/null 2>&1 && command -v slurmdbd >/dev/null 2>&1 \
     && command -v mariadbd >/dev/null 2>&1; then
    log "slurm already installed ($(slurmctld -V), with slurmdbd and MariaDB)"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Without systemd the packages' postinst scripts would try (and fail) to
  # start the services; policy-rc.d exit 101 tells invoke-rc.d not to.
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  local aptlog
  aptlog=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
           slurmctld slurmd slurm-client slurmdbd mariadb-server; } > "$aptlog" 2>&1; then
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
    tail -n 30 "$aptlog" >&2
    die "apt-get install failed (full log: $aptlog)"
  fi
  [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
  rm -f "$aptlog"
  log "installed $(slurmctld -V), slurmdbd and $(mariadbd --version | awk '{print $3}')"
}

write_conf() {
  local base=$1 accounting
  if [ "$ACCOUNTING" = 1 ]; then
    accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
JobCompType=jobcomp/none"
  else
    accounting="AccountingStorageType=accounting_storage/none"
  fi
  cat > "$base/slurm.conf" <<EOF
ClusterName=local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool/%n
SlurmctldPidFile=$base/slurmctld.pid
SlurmdPidFile=$base/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
$accounting
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
# Schedule new jobs at once instead of waiting for the periodic pass; this
# is what makes a tiny array job finish in about a second.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Forget finished jobs quickly so squeue polling sees them gone promptly
# (sacct still has them). Signal, then kill, 2 s after a time limit.
MinJobAge=2
KillWait=2
MaxArraySize=$MAX_ARRAY_SIZE
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=${CPUS:-$(nproc)} Features=local State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

# Starts a private MariaDB on 127.0.0.1:$DB_PORT with its data under
# $1/db, and a user `slurm` for slurmdbd.
start_database() {
  local base=$1 db=$1/db
  command -v mariadbd >/dev/null 2>&1 || die "mariadbd not found; run '$0 install' first"
  mkdir -p "$db"
  mariadb-install-db --no-defaults --user=root --datadir="$db/data" --skip-test-db \
    > "$base/log/mariadb-install.log" 2>&1 \
    || { tail -n 20 "$base/log/mariadb-install.log" >&2; die "mariadb-install-db failed (see $base/log)"; }
  cat > "$db/init.sql" <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm-local';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm-local';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
  # Detached from the calling shell (setsid, no inherited descriptors) so
  # that it outlives `start` like the Slurm daemons, which detach themselves.
  setsid mariadbd --no-defaults --user=root --datadir="$db/data" \
    --bind-address=127.0.0.1 --port="$DB_PORT" --socket="$db/mysqld.sock" \
    --pid-file="$base/mariadbd.pid" --log-error="$base/log/mariadbd.log" \
    --init-file="$db/init.sql" --skip-log-bin --innodb-buffer-pool-size=64M \
    --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
    < /dev/null > /dev/null 2>&1 &
  for _ in $(seq 150); do # up to 30 s
    mariadb-admin --no-defaults --socket="$db/mysqld.sock" -u root ping >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  tail -n 20 "$base/log/mariadbd.log" >&2 || true
  die "MariaDB did not answer within 30 s (logs in $base/log)"
}

# Starts slurmdbd against the database and registers the cluster, with an
# account `tests` for root (so `--account=tests` names a real account).
start_dbd() {
  local base=$1
  command -v slurmdbd >/dev/null 2>&1 || die "slurmdbd not found; run '$0 install' first"
  # slurmdbd reads slurmdbd.conf beside $SLURM_CONF and insists on mode 600.
  (umask 077 && cat > "$base/slurmdbd.conf" <<EOF
AuthType=auth/none
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$base/slurmdbd.pid
LogFile=$base/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurm-local
StorageLoc=slurm_acct_db
EOF
  )
  slurmdbd > "$base/log/slurmdbd.stderr" 2>&1 < /dev/null \
    || die "slurmdbd failed to start (see $base/log)"
  local ok=
  for _ in $(seq 150); do # up to 30 s for slurmdbd to create its tables
    if sacctmgr -i -Q add cluster local >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  if [ -z "$ok" ]; then
    tail -n 20 "$base/log/slurmdbd.log" >&2 || true
    die "slurmdbd did not answer within 30 s (logs in $base/log)"
  fi
  sacctmgr -i -Q add account tests Description=tests Organization=local Cluster=local >/dev/null \
    && sacctmgr -i -Q add user root Account=tests Cluster=local >/dev/null \
    || die "sacctmgr could not add the account 'tests' (see $base/log/slurmdbd.log)"
}

cmd_start() {
  local base=${1:-}
  [ -n "$base" ] || usage
  command -v slurmctld >/dev/null 2>&1 || die "slurmctld not found; run '$0 install' first"
  mkdir -p "$base"
  base=$(cd "$base" && pwd)
  if [ -f "$base/slurmctld.pid" ] && kill -0 "$(cat "$base/slurmctld.pid")" 2>/dev/null; then
    die "a cluster is already running in $base; '$0 stop $base' first"
  fi
  rm -rf "$base"/state "$base"/log "$base"/spool "$base"/db
  mkdir -p "$base"/state "$base"/log "$base/spool/$NODE"
  write_conf "$base"
  export SLURM_CONF=$base/slurm.conf
  if [ "$ACCOUNTING" = 1 ]; then
    start_database "$base"
    start_dbd "$base"
  fi

  # Both daemons detach themselves (fork, setsid) and the launching process
  # returns at once, so they outlive the calling shell (a test harness, a CI
  # step) and leave no zombie behind. -i: ignore state of an earlier cluster.
  slurmctld -i > "$base/log/slurmctld.stderr" 2>&1 < /dev/null \
    || die "slurmctld failed to start (see $base/log)"
  slurmd -N "$NODE" > "$base/log/slurmd.stderr" 2>&1 < /dev/null \
    || die "slurmd failed to start (see $base/log)"

  local state=
  for _ in $(seq 150); do # up to 30 s for the node to register as idle
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    tail -n 20 "$base"/log/* >&2 || true
    die "node $NODE did not become idle within 30 s (state: '${state:-none}'; logs in $base/log)"
  fi
  local with=" without accounting"
  [ "$ACCOUNTING" = 1 ] && with=", accounting in slurmdbd:$DBD_PORT on MariaDB:$DB_PORT"
  log "cluster up: node $NODE, $(sinfo -h -n "$NODE" -o %c) CPUs$with, conf $SLURM_CONF"
  echo "export SLURM_CONF=$SLURM_CONF"
}

# Waits up to $2 s (5) for the process in pid file $1 to exit, then kills it.
stop_pidfile() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null) || return 0
  for _ in $(seq $((${2:-5} * 10))); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  log "pid $pid ($pidfile) still alive after being asked to stop; killing it"
  kill "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

cmd_stop() {
  local base=${1:-}
  [ -n "$base" ] || usage
  [ -f "$base/slurm.conf" ] || die "no slurm.conf in $base"
  export SLURM_CONF=$base/slurm.conf
  # Asks slurmctld and every slurmd to exit; running jobs are left alone by
  # Slurm, so cancel them first to leave no stray processes behind.
  scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
  scontrol shutdown >/dev/null 2>&1 || true
  stop_pidfile "$base/slurmctld.pid"
  stop_pidfile "$base/slurmd.pid"
  # Then the accounting daemon and its database (SIGTERM: clean shutdown).
  local pidfile
  for pidfile in "$base/slurmdbd.pid" "$base/mariadbd.pid"; do
    if [ -f "$pidfile" ]; then
      kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true
    fi
    stop_pidfile "$pidfile" 15
  done
  log "cluster in $base stopped"
}

cmd_status() {
  local base=${1:-}
  if [ -n "$base" ]; then export SLURM_CONF=$base/slurm.conf; fi
  [ -n "${SLURM_CONF:-}" ] || die "give the cluster's DIR or set SLURM_CONF"
  sinfo && squeue
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *) usage ;;
esac
