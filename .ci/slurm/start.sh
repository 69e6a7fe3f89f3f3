#!/usr/bin/env bash
# A one-node SLURM on localhost for CI: `.ci/slurm/start.sh` (root; Debian/Ubuntu with apt).
#
# Installs slurm-wlm and munge if missing, writes slurm.conf from `slurmd -C`, starts munged,
# slurmctld and slurmd, and waits until the node is idle. Containers have no systemd and no
# cgroups, hence proctrack/linuxproc and task/none; there is no slurmdbd, so `sacct` cannot see
# jobs and the workflow's profile asks the executor plugin for `squeue` status queries, which
# need finished jobs to stay visible (MinJobAge below). Every daemon this script starts writes
# its PID under $CAMEVAL_SLURM_DIR/run; `.ci/slurm/stop.sh` stops exactly those.
#
# Environment: CAMEVAL_SLURM_DIR (state, logs, pid files; default /tmp/cameval-slurm),
# CAMEVAL_SLURM_PARTITION (default debug).
set -euo pipefail

BASE=${CAMEVAL_SLURM_DIR:-/tmp/cameval-slurm}
PARTITION=${CAMEVAL_SLURM_PARTITION:-debug}
CONF=$BASE/etc/slurm.conf
RUN=$BASE/run
NODE=$(hostname -s)

say() { echo "[.ci/slurm/start] $*"; }
die() { say "$*"; exit 1; }

# running PIDFILE NAME: the PID in PIDFILE is alive and is the program NAME
running() {
  [ -s "$1" ] || return 1
  [ "$(ps -p "$(cat "$1")" -o comm= 2>/dev/null)" = "$2" ]
}

[ "$(id -u)" = 0 ] || die "needs root (munged and slurmd run as root here)"

# 1. packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || die "slurm-wlm/munge missing and no apt-get to install them"
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
mkdir -p "$BASE/etc" "$RUN" "$BASE/log" "$BASE/state/ctld" "$BASE/state/d"

# 2. munge: a key, then the daemon (unless one already answers)
if [ ! -s /etc/munge/munge.key ]; then
  say "creating the munge key"
  if command -v mungekey >/dev/null; then mungekey --create --force; else create-munge-key -f; fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 "$RUN/munge"
if running "$RUN/munge/munged.pid" munged; then
  say "munged already running (pid $(cat "$RUN/munge/munged.pid"))"
elif munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "a munged not started here already answers; using it"
else
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged --pid-file="$RUN/munge/munged.pid" --log-file="$RUN/munge/munged.log"
  for _ in $(seq 1 20); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n | unmunge >/dev/null || die "munged does not answer; see $RUN/munge/munged.log"
fi

# 3. slurm.conf: the node as `slurmd -C` sees it, RealMemory at 90 % of the free -m total
MEM=$(free -m | awk '/^Mem:/{print int($2 * 0.9)}')
NODELINE=$(slurmd -C | head -n1 | sed -E "s/RealMemory=[0-9]+/RealMemory=$MEM/; s/^NodeName=[^ ]+/NodeName=$NODE/")
cat > "$CONF.new" <<CONF
ClusterName=cameval-ci
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue for 5 min (the plugin needs >= 3 x its first status delay)
MinJobAge=300
StateSaveLocation=$BASE/state/ctld
SlurmdSpoolDir=$BASE/state/d
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
$NODELINE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
CHANGED=0
if ! cmp -s "$CONF.new" "$CONF"; then mv "$CONF.new" "$CONF"; CHANGED=1; else rm "$CONF.new"; fi
# The default path: the jobstep plugin drops every SLURM_* variable (SLURM_CONF too) before `srun`.
mkdir -p /etc/slurm
if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
  mv /etc/slurm/slurm.conf "/etc/slurm/slurm.conf.orig.$(date +%s)"
fi
ln -sfn "$CONF" /etc/slurm/slurm.conf

# 4. daemons
if running "$RUN/slurmctld.pid" slurmctld; then
  say "slurmctld already running (pid $(cat "$RUN/slurmctld.pid"))"
  [ "$CHANGED" = 0 ] || scontrol reconfigure
else
  say "starting slurmctld"
  /usr/sbin/slurmctld -f "$CONF"
fi
if running "$RUN/slurmd.pid" slurmd; then
  say "slurmd already running (pid $(cat "$RUN/slurmd.pid"))"
else
  say "starting slurmd"
  /usr/sbin/slurmd -f "$CONF" -N "$NODE"
fi

# 5. wait until the node takes jobs
state=""
for i in $(seq 1 60); do
  state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
  case "$state" in
    idle|mix|alloc) say "node $NODE is $state after ${i} s"; break ;;
    drain*|down*|drng*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
case "$state" in idle|mix|alloc) ;; *) die "node $NODE did not become idle (state '$state'); see $BASE/log/" ;; esac
sinfo
