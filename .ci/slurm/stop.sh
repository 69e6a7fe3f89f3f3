#!/usr/bin/env bash
# Stop the daemons `.ci/slurm/start.sh` started, by the PIDs in their pid files (nothing else).
set -uo pipefail
BASE=${CAMEVAL_SLURM_DIR:-/tmp/cameval-slurm}
RUN=$BASE/run

stop() {  # stop PIDFILE NAME
  local pidfile=$1 name=$2 pid
  [ -s "$pidfile" ] || { echo "[.ci/slurm/stop] $name: no pid file, nothing to stop"; return 0; }
  pid=$(cat "$pidfile")
  if [ "$(ps -p "$pid" -o comm= 2>/dev/null)" != "$name" ]; then
    echo "[.ci/slurm/stop] $name: pid $pid is not running (stale pid file)"; rm -f "$pidfile"; return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 30); do ps -p "$pid" >/dev/null 2>&1 || break; sleep 0.5; done
  if ps -p "$pid" >/dev/null 2>&1; then echo "[.ci/slurm/stop] $name: pid $pid ignored TERM, sending KILL"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  echo "[.ci/slurm/stop] $name: stopped pid $pid"
}

stop "$RUN/slurmd.pid" slurmd
stop "$RUN/slurmctld.pid" slurmctld
stop "$RUN/munge/munged.pid" munged
# the /etc symlink, only if it points at our slurm.conf
if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$BASE/etc/slurm.conf" ]; then rm -f /etc/slurm/slurm.conf; fi
